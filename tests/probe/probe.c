/* moat-probe: a tiny static program run *inside* test containers.  Each
   subcommand asks the kernel one question and prints the answer as a single
   JSON object on stdout, so the pytest suites check what the kernel reports
   rather than what the runtime claims.  It exits 0 unless a subcommand is
   unknown (exit 2) or `exit N` asks otherwise.

   It is a test tool meant to run inside a container: several subcommands try
   privileged operations (mount, setns, ptrace ...) with arguments chosen so
   that success changes nothing outside the probe's own namespaces.  */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#endif
#ifndef F_SEAL_SEAL
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif
#ifndef SYS_userfaultfd
#define SYS_userfaultfd 323
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif

/* ---- JSON output ---------------------------------------------------- */

static int first_field = 1;

static void
json_str (const char *s)
{
  const unsigned char *p = (const unsigned char *) s;
  putchar ('"');
  for (; *p; p++)
    {
      switch (*p)
        {
        case '"': fputs ("\\\"", stdout); break;
        case '\\': fputs ("\\\\", stdout); break;
        case '\n': fputs ("\\n", stdout); break;
        case '\t': fputs ("\\t", stdout); break;
        case '\r': fputs ("\\r", stdout); break;
        default:
          /* Non-ASCII bytes become \u00XX so the output is always valid
             JSON, whatever a file or link target contains.  */
          if (*p < 0x20 || *p >= 0x7f)
            printf ("\\u%04x", *p);
          else
            putchar (*p);
        }
    }
  putchar ('"');
}

static void
sep (void)
{
  if (!first_field)
    putchar (',');
  first_field = 0;
}

static void
key (const char *k)
{
  sep ();
  json_str (k);
  putchar (':');
}

static void
kv_str (const char *k, const char *v)
{
  key (k);
  if (v)
    json_str (v);
  else
    fputs ("null", stdout);
}

static void
kv_int (const char *k, long long v)
{
  key (k);
  printf ("%lld", v);
}

static void
kv_bool (const char *k, int v)
{
  key (k);
  fputs (v ? "true" : "false", stdout);
}

static void
obj_begin (void)
{
  putchar ('{');
  first_field = 1;
}

static void
obj_end (void)
{
  putchar ('}');
  first_field = 0;
}

static const char *
errname (int e)
{
  switch (e)
    {
#define E(x) case x: return #x;
      E (EPERM) E (ENOENT) E (ESRCH) E (EINTR) E (EIO) E (ENXIO) E (E2BIG)
      E (ENOEXEC) E (EBADF) E (ECHILD) E (EAGAIN) E (ENOMEM) E (EACCES)
      E (EFAULT) E (ENOTBLK) E (EBUSY) E (EEXIST) E (EXDEV) E (ENODEV)
      E (ENOTDIR) E (EISDIR) E (EINVAL) E (ENFILE) E (EMFILE) E (ENOTTY)
      E (ETXTBSY) E (EFBIG) E (ENOSPC) E (ESPIPE) E (EROFS) E (EMLINK)
      E (EPIPE) E (EDOM) E (ERANGE) E (EDEADLK) E (ENAMETOOLONG) E (ENOLCK)
      E (ENOSYS) E (ENOTEMPTY) E (ELOOP) E (ENOMSG) E (EIDRM) E (ENODATA)
      E (ENOKEY) E (EKEYREJECTED) E (ESTALE) E (EOPNOTSUPP) E (EAFNOSUPPORT)
      E (EPROTONOSUPPORT) E (ESOCKTNOSUPPORT) E (EPROTOTYPE) E (ENOTSOCK)
      E (EOVERFLOW) E (EBADMSG) E (ENOTCONN) E (ECONNREFUSED) E (ENOTUNIQ)
      E (EUSERS) E (EDQUOT) E (ENOMEDIUM) E (EMEDIUMTYPE) E (ECANCELED)
      E (EOWNERDEAD) E (ENOTRECOVERABLE) E (ERFKILL) E (EHWPOISON)
      E (EKEYEXPIRED) E (EKEYREVOKED)
#undef E
    default:
      {
        static char buf[32];
        snprintf (buf, sizeof buf, "E%d", e);
        return buf;
      }
    }
}

static void
kv_errno (const char *k, long rc)
{
  kv_str (k, rc < 0 ? errname (errno) : "ok");
}

/* ---- helpers ---------------------------------------------------------- */

static char *
slurp (const char *path, size_t max, ssize_t *len_out, int *err_out)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      *err_out = errno;
      return NULL;
    }
  char *buf = malloc (max + 1);
  if (!buf)
    abort ();
  size_t len = 0;
  for (;;)
    {
      ssize_t n = read (fd, buf + len, max - len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          *err_out = errno;
          close (fd);
          free (buf);
          return NULL;
        }
      if (n == 0 || (len += n) >= max)
        break;
    }
  close (fd);
  buf[len] = 0;
  *len_out = len;
  *err_out = 0;
  return buf;
}

static void
kv_file (const char *k, const char *path)
{
  ssize_t len;
  int err;
  char *s = slurp (path, 65536, &len, &err);
  key (k);
  if (!s)
    {
      obj_begin ();
      kv_str ("error", errname (err));
      obj_end ();
      return;
    }
  json_str (s);
  free (s);
}

static void
status_field (const char *status, const char *name, const char *k)
{
  size_t nl = strlen (name);
  const char *p = status;
  while (p && *p)
    {
      if (strncmp (p, name, nl) == 0 && p[nl] == ':')
        {
          const char *v = p + nl + 1;
          while (*v == ' ' || *v == '\t')
            v++;
          const char *e = strchr (v, '\n');
          size_t vl = e ? (size_t) (e - v) : strlen (v);
          char buf[256];
          if (vl >= sizeof buf)
            vl = sizeof buf - 1;
          memcpy (buf, v, vl);
          buf[vl] = 0;
          kv_str (k, buf);
          return;
        }
      p = strchr (p, '\n');
      if (p)
        p++;
    }
  kv_str (k, NULL);
}

/* ---- subcommands ------------------------------------------------------ */

static void
list_fds (void)
{
  key ("fds");
  putchar ('[');
  DIR *d = opendir ("/proc/self/fd");
  if (!d)
    {
      putchar (']');
      kv_str ("fds_error", errname (errno));
      return;
    }
  int dfd = dirfd (d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir (d)))
    {
      if (de->d_name[0] == '.')
        continue;
      int fd = atoi (de->d_name);
      if (fd == dfd)
        continue;
      char path[64], target[PATH_MAX];
      snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
      ssize_t l = readlink (path, target, sizeof target - 1);
      if (l < 0)
        snprintf (target, sizeof target, "?%s", errname (errno));
      else
        target[l] = 0;
      if (n++)
        putchar (',');
      first_field = 1;
      obj_begin ();
      kv_int ("fd", fd);
      kv_str ("target", target);
      obj_end ();
    }
  closedir (d);
  putchar (']');
  first_field = 0;
}

static int
cmd_status (void)
{
  ssize_t len;
  int err;
  char *status = slurp ("/proc/self/status", 65536, &len, &err);
  obj_begin ();
  kv_int ("pid", getpid ());
  kv_int ("ppid", getppid ());
  kv_int ("uid", getuid ());
  kv_int ("euid", geteuid ());
  kv_int ("gid", getgid ());
  kv_int ("egid", getegid ());
  gid_t groups[256];
  int ng = getgroups (256, groups);
  key ("groups");
  putchar ('[');
  for (int i = 0; i < ng; i++)
    printf ("%s%u", i ? "," : "", (unsigned) groups[i]);
  putchar (']');
  first_field = 0;
  static const char *const fields[]
      = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
          "Seccomp", "Seccomp_filters", "State" };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    status_field (status ? status : "", fields[i], fields[i]);
  free (status);
  kv_file ("uid_map", "/proc/self/uid_map");
  kv_file ("gid_map", "/proc/self/gid_map");
  char host[256];
  if (gethostname (host, sizeof host) == 0)
    kv_str ("hostname", host);
  else
    kv_str ("hostname", NULL);
  char cwd[PATH_MAX];
  if (getcwd (cwd, sizeof cwd))
    {
      kv_str ("cwd", cwd);
      kv_str ("cwd_error", NULL);
    }
  else
    {
      kv_str ("cwd", NULL);
      kv_str ("cwd_error", errname (errno));
    }
  kv_int ("dumpable", prctl (PR_GET_DUMPABLE, 0, 0, 0, 0));
  char target[PATH_MAX];
  ssize_t l = readlink ("/proc/self/exe", target, sizeof target - 1);
  target[l < 0 ? 0 : l] = 0;
  kv_str ("exe", l < 0 ? errname (errno) : target);
  list_fds ();
  obj_end ();
  putchar ('\n');
  return 0;
}

/* Each entry tries one syscall the default profile must forbid, with
   arguments that are harmless if it is in fact permitted.  This half: the
   namespace, mount, key and kernel-facility calls.  */
static long
try_syscall_kernel (const char *name, int *known)
{
  *known = 1;
  errno = 0;
  if (!strcmp (name, "unshare"))
    return unshare (CLONE_NEWUSER);
  if (!strcmp (name, "unshare-mnt"))
    return unshare (CLONE_NEWNS);
  if (!strcmp (name, "mount"))
    {
      /* The CVE-2022-0492 first step: mount a cgroup v1 hierarchy.  */
      struct stat st;
      const char *target = stat ("/tmp", &st) == 0 ? "/tmp" : "/";
      return mount ("cgroup", target, "cgroup", MS_NOSUID | MS_NODEV, "rdma");
    }
  if (!strcmp (name, "mount-tmpfs"))
    return mount ("tmpfs", "/tmp", "tmpfs", 0, "size=64k");
  if (!strcmp (name, "keyctl"))
    /* KEYCTL_GET_KEYRING_ID (0) of the session keyring (-3), no create.  */
    return syscall (SYS_keyctl, 0, -3, 0, 0, 0);
  if (!strcmp (name, "add_key"))
    /* Into the process keyring (-2), which dies with the probe.  */
    return syscall (SYS_add_key, "user", "moat-probe", "x", 1, -2);
  if (!strcmp (name, "request_key"))
    return syscall (SYS_request_key, "user", "moat-probe-none", NULL, 0);
  if (!strcmp (name, "bpf"))
    {
      char attr[128];
      memset (attr, 0, sizeof attr);
      /* BPF_MAP_CREATE with map_type 0 (unspec): EINVAL if allowed.  */
      long rc = syscall (SYS_bpf, 0, attr, sizeof attr);
      if (rc >= 0)
        close (rc);
      return rc;
    }
  if (!strcmp (name, "perf_event_open"))
    {
      char attr[128];
      memset (attr, 0, sizeof attr);
      /* type PERF_TYPE_SOFTWARE (1), size, config PERF_COUNT_SW_CPU_CLOCK.  */
      *(uint32_t *) attr = 1;
      *(uint32_t *) (attr + 4) = sizeof attr;
      long rc = syscall (SYS_perf_event_open, attr, 0, -1, -1, 0);
      if (rc >= 0)
        close (rc);
      return rc;
    }
  if (!strcmp (name, "userfaultfd"))
    {
      long rc = syscall (SYS_userfaultfd, O_CLOEXEC);
      if (rc >= 0)
        close (rc);
      return rc;
    }
  if (!strcmp (name, "io_uring_setup"))
    {
      char params[120];
      memset (params, 0, sizeof params);
      long rc = syscall (SYS_io_uring_setup, 1, params);
      if (rc >= 0)
        close (rc);
      return rc;
    }
  if (!strcmp (name, "kexec_load"))
    /* Unknown flags: EINVAL after the permission check, so nothing is
       loaded or unloaded even where it is permitted.  */
    return syscall (SYS_kexec_load, 0, 0, NULL, 0xdead0000UL);
  if (!strcmp (name, "init_module"))
    return syscall (SYS_init_module, NULL, 0, "");
  if (!strcmp (name, "finit_module"))
    return syscall (SYS_finit_module, -1, "", 0);
  if (!strcmp (name, "delete_module"))
    return syscall (SYS_delete_module, "moat_probe_none", O_NONBLOCK);
  if (!strcmp (name, "reboot"))
    /* A bad magic: EINVAL after the CAP_SYS_BOOT check.  */
    return syscall (SYS_reboot, 0xdeadbeefUL, 0, 0, NULL);
  if (!strcmp (name, "swapon"))
    return syscall (SYS_swapon, "/nonexistent-moat-probe", 0);
  if (!strcmp (name, "swapoff"))
    return syscall (SYS_swapoff, "/nonexistent-moat-probe");
  if (!strcmp (name, "umount2"))
    return umount2 ("/nonexistent-moat-probe", 0);
  if (!strcmp (name, "setns"))
    {
      int fd = open ("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        return -1;
      long rc = setns (fd, CLONE_NEWUTS);
      int e = errno;
      close (fd);
      errno = e;
      return rc;
    }
  *known = 0;
  return -1;
}

/* The other half: process, socket and filesystem-handle calls.  */
static long
try_syscall_process (const char *name, const char *arg, int *known)
{
  *known = 1;
  errno = 0;
  if (!strcmp (name, "pivot_root"))
    return syscall (SYS_pivot_root, "/nonexistent-moat-probe-a",
                    "/nonexistent-moat-probe-b");
  if (!strcmp (name, "chroot"))
    return chroot ("/");
  if (!strcmp (name, "open_by_handle_at"))
    {
      struct
      {
        unsigned int handle_bytes;
        int handle_type;
        unsigned char f_handle[8];
      } h = { 8, 1, { 2, 0, 0, 0, 0, 0, 0, 0 } };
      int mfd = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      long rc = syscall (SYS_open_by_handle_at, mfd, &h, O_RDONLY);
      int e = errno;
      if (rc >= 0)
        close (rc);
      close (mfd);
      errno = e;
      return rc;
    }
  if (!strcmp (name, "ptrace"))
    {
      pid_t pid = arg ? atoi (arg) : (getpid () == 1 ? getppid () : 1);
      long rc = ptrace (PTRACE_ATTACH, pid, NULL, NULL);
      if (rc == 0)
        {
          int e = errno, st;
          waitpid (pid, &st, __WALL);
          ptrace (PTRACE_DETACH, pid, NULL, NULL);
          errno = e;
        }
      return rc;
    }
  if (!strcmp (name, "personality"))
    {
      int old = personality (0xffffffff);
      long rc = personality (0x0040000);
      int e = errno;
      if (rc != -1)
        personality (old);
      errno = e;
      return rc == -1 ? -1 : 0;
    }
  if (!strcmp (name, "socket-alg") || !strcmp (name, "socket-vsock"))
    {
      int fam = name[7] == 'a' ? AF_ALG : AF_VSOCK;
      int type = fam == AF_ALG ? SOCK_SEQPACKET : SOCK_STREAM;
      long rc = socket (fam, type | SOCK_CLOEXEC, 0);
      if (rc >= 0)
        close (rc);
      return rc;
    }
  if (!strcmp (name, "clone3"))
    /* size 0 is rejected with EINVAL by the kernel if it gets that far.  */
    return syscall (SYS_clone3, NULL, 0);
  if (!strcmp (name, "clone-newns"))
    {
      /* clone with a namespace flag, as Docker's arg0 mask filters.  */
      long rc = syscall (SYS_clone, CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL,
                         NULL);
      if (rc == 0)
        _exit (0);
      if (rc > 0)
        {
          int e = errno, st;
          waitpid (rc, &st, 0);
          errno = e;
        }
      return rc;
    }
  if (!strcmp (name, "sethostname"))
    return sethostname ("moat-probe", 10);
  if (!strcmp (name, "open_tree"))
    {
      long rc = syscall (SYS_open_tree, AT_FDCWD, "/", 0);
      if (rc >= 0)
        close (rc);
      return rc;
    }
  if (!strcmp (name, "fsopen"))
    {
      long rc = syscall (SYS_fsopen, "tmpfs", 0);
      if (rc >= 0)
        close (rc);
      return rc;
    }
  if (!strcmp (name, "getpid"))
    return getpid () > 0 ? 0 : -1;
  *known = 0;
  return -1;
}

static long
try_syscall (const char *name, const char *arg, int *known)
{
  long rc = try_syscall_kernel (name, known);
  if (*known)
    return rc;
  return try_syscall_process (name, arg, known);
}

static int
cmd_syscall (int argc, char **argv)
{
  obj_begin ();
  for (int i = 0; i < argc; i++)
    {
      char name[128];
      snprintf (name, sizeof name, "%s", argv[i]);
      char *arg = strchr (name, ':');
      if (arg)
        *arg++ = 0;
      int known;
      long rc = try_syscall (name, arg, &known);
      if (!known)
        kv_str (argv[i], "unknown-probe-syscall");
      else
        kv_errno (argv[i], rc);
    }
  obj_end ();
  putchar ('\n');
  return 0;
}

static int
cmd_write (const char *path, const char *data)
{
  obj_begin ();
  kv_str ("path", path);
  int fd = open (path, O_WRONLY | O_CREAT | O_NOCTTY | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      kv_str ("result", errname (errno));
      kv_str ("step", "open");
    }
  else
    {
      const char *d = data ? data : "";
      ssize_t n = write (fd, d, strlen (d));
      kv_str ("result", n < 0 ? errname (errno) : "ok");
      kv_str ("step", "write");
      close (fd);
    }
  obj_end ();
  putchar ('\n');
  return 0;
}

static int
cmd_read (const char *path)
{
  ssize_t len;
  int err;
  char *s = slurp (path, 1 << 20, &len, &err);
  obj_begin ();
  kv_str ("path", path);
  if (!s)
    kv_str ("error", errname (err));
  else
    {
      kv_str ("error", NULL);
      kv_int ("bytes", len);
      if (len > 4096)
        s[4096] = 0;
      kv_str ("data", s);
    }
  free (s);
  obj_end ();
  putchar ('\n');
  return 0;
}

static const char *
type_name (mode_t m)
{
  if (S_ISREG (m)) return "file";
  if (S_ISDIR (m)) return "dir";
  if (S_ISCHR (m)) return "chr";
  if (S_ISBLK (m)) return "blk";
  if (S_ISLNK (m)) return "lnk";
  if (S_ISFIFO (m)) return "fifo";
  if (S_ISSOCK (m)) return "sock";
  return "unknown";
}

static int
cmd_stat (const char *path)
{
  struct stat st;
  obj_begin ();
  kv_str ("path", path);
  if (lstat (path, &st) < 0)
    {
      kv_str ("error", errname (errno));
      obj_end ();
      putchar ('\n');
      return 0;
    }
  kv_str ("error", NULL);
  kv_str ("type", type_name (st.st_mode));
  char buf[64];
  snprintf (buf, sizeof buf, "%04o", (unsigned) (st.st_mode & 07777));
  kv_str ("mode", buf);
  snprintf (buf, sizeof buf, "%u:%u", major (st.st_rdev), minor (st.st_rdev));
  kv_str ("rdev", buf);
  kv_int ("uid", st.st_uid);
  kv_int ("gid", st.st_gid);
  kv_int ("size", st.st_size);
  kv_bool ("setuid", (st.st_mode & S_ISUID) != 0);
  kv_bool ("setgid", (st.st_mode & S_ISGID) != 0);
  if (S_ISLNK (st.st_mode))
    {
      char t[PATH_MAX];
      ssize_t l = readlink (path, t, sizeof t - 1);
      t[l < 0 ? 0 : l] = 0;
      kv_str ("target", t);
    }
  struct statfs sf;
  if (statfs (path, &sf) == 0)
    {
      snprintf (buf, sizeof buf, "0x%lx", (unsigned long) sf.f_type);
      kv_str ("fstype", buf);
    }
  if (S_ISDIR (st.st_mode))
    {
      key ("entries");
      putchar ('[');
      DIR *d = opendir (path);
      int n = 0;
      struct dirent *de;
      while (d && (de = readdir (d)))
        {
          if (!strcmp (de->d_name, ".") || !strcmp (de->d_name, ".."))
            continue;
          if (n++)
            putchar (',');
          json_str (de->d_name);
        }
      putchar (']');
      first_field = 0;
      if (!d)
        kv_str ("entries_error", errname (errno));
      else
        closedir (d);
    }
  obj_end ();
  putchar ('\n');
  return 0;
}

/* mountinfo: "id parent maj:min root dest opts [optional...] - fstype
   source superopts".  */
static int
cmd_mountinfo (void)
{
  ssize_t len;
  int err;
  char *s = slurp ("/proc/self/mountinfo", 1 << 20, &len, &err);
  obj_begin ();
  if (!s)
    {
      kv_str ("error", errname (err));
      obj_end ();
      putchar ('\n');
      return 0;
    }
  key ("mounts");
  putchar ('[');
  int n = 0;
  char *save = NULL;
  for (char *line = strtok_r (s, "\n", &save); line;
       line = strtok_r (NULL, "\n", &save))
    {
      char *f[32];
      int nf = 0;
      char *save2 = NULL;
      for (char *t = strtok_r (line, " ", &save2); t && nf < 32;
           t = strtok_r (NULL, " ", &save2))
        f[nf++] = t;
      int dash = -1;
      for (int i = 6; i < nf; i++)
        if (!strcmp (f[i], "-"))
          {
            dash = i;
            break;
          }
      if (nf < 6 || dash < 0 || dash + 3 >= nf)
        continue;
      if (n++)
        putchar (',');
      first_field = 1;
      obj_begin ();
      kv_str ("dest", f[4]);
      kv_str ("root", f[3]);
      kv_str ("options", f[5]);
      kv_str ("fstype", dash + 1 < nf ? f[dash + 1] : "");
      kv_str ("source", dash + 2 < nf ? f[dash + 2] : "");
      kv_str ("super", dash + 3 < nf ? f[dash + 3] : "");
      obj_end ();
    }
  putchar (']');
  first_field = 0;
  free (s);
  obj_end ();
  putchar ('\n');
  return 0;
}

static int
cmd_exe (const char *pid)
{
  char path[64], target[PATH_MAX];
  snprintf (path, sizeof path, "/proc/%s/exe", pid);
  obj_begin ();
  kv_str ("path", path);
  ssize_t l = readlink (path, target, sizeof target - 1);
  if (l < 0)
    {
      kv_str ("target", NULL);
      kv_str ("readlink_error", errname (errno));
    }
  else
    {
      target[l] = 0;
      kv_str ("target", target);
      kv_str ("readlink_error", NULL);
    }
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd >= 0)
    {
      /* Never write: the point is only whether the open is refused.  */
      close (fd);
      kv_str ("open_wronly", "ok");
    }
  else
    kv_str ("open_wronly", errname (errno));
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      kv_str ("open_rdonly", errname (errno));
      kv_int ("seals", -1);
    }
  else
    {
      kv_str ("open_rdonly", "ok");
      int seals = fcntl (fd, F_GET_SEALS);
      kv_int ("seals", seals);
      if (seals < 0)
        kv_str ("seals_error", errname (errno));
      else
        {
          key ("seal_names");
          putchar ('[');
          int n = 0;
          static const struct { int bit; const char *name; } sn[]
              = { { F_SEAL_SEAL, "SEAL" }, { F_SEAL_SHRINK, "SHRINK" },
                  { F_SEAL_GROW, "GROW" }, { F_SEAL_WRITE, "WRITE" },
                  { F_SEAL_FUTURE_WRITE, "FUTURE_WRITE" } };
          for (size_t i = 0; i < sizeof sn / sizeof sn[0]; i++)
            if (seals & sn[i].bit)
              {
                if (n++)
                  putchar (',');
                json_str (sn[i].name);
              }
          putchar (']');
          first_field = 0;
        }
      close (fd);
    }
  obj_end ();
  putchar ('\n');
  return 0;
}

/* CVE-2019-5736 as the exploit does it: hold a read-only handle to the exe
 * of PID in the procfs at PROC (a runtime binary running as a container process after the init
 * exec'd a "#!/proc/self/exe" script), let that process exit by opening FIFO
 * (it blocks opening FIFO for writing), then reopen the handle for writing
 * once it is no longer text-busy (retrying for 5 s).  If that works, write back the byte already
 * at offset 0: the file's content never changes, but a successful write shows
 * the binary was writable. */
static int
cmd_exe_reopen (const char *proc, const char *pid, const char *fifo)
{
  char path[PATH_MAX], target[PATH_MAX], self[PATH_MAX], b;
  int fd, ffd, wfd;
  ssize_t l;

  snprintf (path, sizeof path, "%s/%s/exe", proc, pid);
  obj_begin ();
  l = readlink (path, target, sizeof target - 1);
  target[l < 0 ? 0 : l] = 0;
  kv_str ("target", l < 0 ? NULL : target);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  kv_str ("hold", fd < 0 ? errname (errno) : "ok");
  ffd = open (fifo, O_RDONLY | O_CLOEXEC);
  kv_str ("fifo", ffd < 0 ? errname (errno) : "ok");
  /* EOF: the writer closed the FIFO when it exited, after its mm (and so the
     text-busy mark on its exe) was released. */
  while (ffd >= 0 && read (ffd, &b, 1) > 0)
    ;
  if (fd < 0)
    {
      obj_end ();
      putchar ('\n');
      return 1;
    }
  snprintf (self, sizeof self, "%s/self/fd/%d", proc, fd);
  /* As the exploit does, wait out ETXTBSY (another process still executing
     the same file). */
  for (int i = 0; (wfd = open (self, O_WRONLY | O_CLOEXEC)) < 0 && errno == ETXTBSY && i < 500; i++)
    usleep (10000);
  kv_str ("reopen_wronly", wfd < 0 ? errname (errno) : "ok");
  if (wfd >= 0)
    {
      if (pread (fd, &b, 1, 0) != 1)
        kv_str ("write", errname (errno));
      else
        kv_str ("write", pwrite (wfd, &b, 1, 0) == 1 ? "ok" : errname (errno));
      close (wfd);
    }
  else
    kv_str ("write", "not opened");
  obj_end ();
  putchar ('\n');
  return 0;
}

static int
cmd_fork_bomb (long max)
{
  pid_t *kids = calloc (max > 0 ? max : 1, sizeof *kids);
  if (!kids)
    abort ();
  long count = 0;
  int err = 0;
  pid_t parent = getpid ();
  while (count < max)
    {
      pid_t p = fork ();
      if (p < 0)
        {
          err = errno;
          break;
        }
      if (p == 0)
        {
          /* Children only wait to be killed; PDEATHSIG makes sure none
             outlives the probe even if the probe is killed first.  */
          prctl (PR_SET_PDEATHSIG, SIGKILL);
          if (getppid () != parent)
            _exit (0);
          for (;;)
            pause ();
        }
      kids[count++] = p;
    }
  for (long i = 0; i < count; i++)
    kill (kids[i], SIGKILL);
  for (long i = 0; i < count; i++)
    waitpid (kids[i], NULL, 0);
  free (kids);
  obj_begin ();
  kv_int ("count", count);
  kv_str ("errno", err ? errname (err) : NULL);
  obj_end ();
  putchar ('\n');
  return 0;
}

static int
cmd_sleep (const char *secs)
{
  double s = atof (secs);
  struct timespec ts = { (time_t) s, (long) ((s - (time_t) s) * 1e9) };
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
  obj_begin ();
  kv_str ("slept", secs);
  obj_end ();
  putchar ('\n');
  return 0;
}

/* scan: what this process can learn about every other process it can see
   (CVE-2019-5736 / CVE-2016-9962 hostile init).  For each pid: the exe link,
   whether /proc/PID/fd can be listed (PTRACE_MODE_READ) and whether the exe
   can be opened for writing, then the exe link once more ("exe_after"): a
   process that execs between the two reads was listed at an unknown side of
   its execve, so the caller must not attribute its fds to the first exe.
   Never writes anything.  */
static int
cmd_scan (void)
{
  DIR *d = opendir ("/proc");
  obj_begin ();
  kv_int ("self", getpid ());
  key ("procs");
  putchar ('[');
  int n = 0;
  struct dirent *de;
  while (d && (de = readdir (d)))
    {
      if (de->d_name[0] < '0' || de->d_name[0] > '9')
        continue;
      if (atoi (de->d_name) == getpid ())
        continue;
      char path[64], target[PATH_MAX];
      int pid = atoi (de->d_name);
      if (n++)
        putchar (',');
      first_field = 1;
      obj_begin ();
      kv_int ("pid", pid);
      snprintf (path, sizeof path, "/proc/%d/exe", pid);
      ssize_t l = readlink (path, target, sizeof target - 1);
      if (l < 0)
        {
          kv_str ("exe", NULL);
          kv_str ("exe_err", errname (errno));
        }
      else
        {
          target[l] = 0;
          kv_str ("exe", target);
          kv_str ("exe_err", NULL);
        }
      int fd = open (path, O_WRONLY | O_CLOEXEC);
      if (fd >= 0)
        close (fd);
      kv_str ("wronly", fd >= 0 ? "ok" : errname (errno));
      snprintf (path, sizeof path, "/proc/%d/fd", pid);
      DIR *fdd = opendir (path);
      kv_str ("fd_list", fdd ? "ok" : errname (errno));
      if (fdd)
        {
          key ("fds");
          putchar ('[');
          int m = 0;
          struct dirent *fe;
          while ((fe = readdir (fdd)))
            {
              if (fe->d_name[0] == '.')
                continue;
              char fpath[128];
              snprintf (fpath, sizeof fpath, "%s/%d", path, atoi (fe->d_name));
              l = readlink (fpath, target, sizeof target - 1);
              target[l < 0 ? 0 : l] = 0;
              if (m++)
                putchar (',');
              json_str (target);
            }
          putchar (']');
          first_field = 0;
          closedir (fdd);
        }
      snprintf (path, sizeof path, "/proc/%d/exe", pid);
      l = readlink (path, target, sizeof target - 1);
      if (l >= 0)
        target[l] = 0;
      kv_str ("exe_after", l >= 0 ? target : NULL);
      kv_str ("exe_after_err", l >= 0 ? NULL : errname (errno));
      obj_end ();
    }
  if (d)
    closedir (d);
  putchar (']');
  first_field = 0;
  obj_end ();
  putchar ('\n');
  return 0;
}

static int
usage (void)
{
  fputs ("usage: moat-probe status | syscall NAME... | write PATH [DATA] |"
         " read PATH | stat PATH | mountinfo | exe PID | exe-reopen PROC PID FIFO | scan |"
         " fork-bomb N |"
         " sleep S | exit N\n",
         stderr);
  return 2;
}

int
main (int argc, char **argv)
{
  int rc;
  if (argc < 2)
    return usage ();
  const char *cmd = argv[1];
  if (!strcmp (cmd, "status"))
    rc = cmd_status ();
  else if (!strcmp (cmd, "syscall"))
    rc = cmd_syscall (argc - 2, argv + 2);
  else if (!strcmp (cmd, "write") && argc >= 3)
    rc = cmd_write (argv[2], argc >= 4 ? argv[3] : NULL);
  else if (!strcmp (cmd, "read") && argc == 3)
    rc = cmd_read (argv[2]);
  else if (!strcmp (cmd, "stat") && argc == 3)
    rc = cmd_stat (argv[2]);
  else if (!strcmp (cmd, "scan"))
    rc = cmd_scan ();
  else if (!strcmp (cmd, "mountinfo"))
    rc = cmd_mountinfo ();
  else if (!strcmp (cmd, "exe") && argc == 3)
    rc = cmd_exe (argv[2]);
  else if (!strcmp (cmd, "exe-reopen") && argc == 5)
    rc = cmd_exe_reopen (argv[2], argv[3], argv[4]);
  else if (!strcmp (cmd, "fork-bomb") && argc == 3)
    rc = cmd_fork_bomb (atol (argv[2]));
  else if (!strcmp (cmd, "sleep") && argc == 3)
    rc = cmd_sleep (argv[2]);
  else if (!strcmp (cmd, "exit") && argc == 3)
    {
      int code = atoi (argv[2]);
      obj_begin ();
      kv_int ("exit", code);
      obj_end ();
      putchar ('\n');
      fflush (stdout);
      return code;
    }
  else
    return usage ();
  fflush (stdout);
  return rc;
}
