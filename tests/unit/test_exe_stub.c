/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandbox/exe_stub.c and src/stub/exec_stub.c: when a container may skip the
 * sealed re-exec of moat (each condition flipped on a config that qualifies),
 * and what the stub does when run for real: its memfd is sealed, a
 * successful exec closes the report connection, a failed one reports the
 * errno there, and run as an interpreter it runs nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "spec/spec.h"

#define F_SEALS_ALL (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* A config with NAMESPACES and the capability sets CAPS (NULL: CAP_KILL
   only), PROCESS_EXTRA spliced into "process", LINUX_EXTRA into "linux" and
   TOP_EXTRA at the top (each starts with a comma when not empty). */
static bool
protects_caps (const char *namespaces, const char *caps, const char *process_extra, const char *linux_extra,
               const char *top_extra)
{
  char json[4096];
  struct moat_spec spec;
  struct moat_error err;
  bool r;

  snprintf (json, sizeof json,
            "{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"rootfs\"}%s,"
            " \"process\": {\"args\": [\"/bin/true\"], \"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0},"
            "  \"capabilities\": %s%s},"
            " \"linux\": {\"namespaces\": [%s]%s}}",
            top_extra,
            caps ? caps : "{\"bounding\": [\"CAP_KILL\"], \"effective\": [\"CAP_KILL\"], \"permitted\": [\"CAP_KILL\"]}",
            process_extra, namespaces, linux_extra);
  if (moat_spec_parse (json, strlen (json), &spec, &err) < 0)
    fail_msg ("%s: %s", json, err.msg);
  r = moat_exec_stub_protects (&spec);
  moat_spec_free (&spec);
  return r;
}

#define protects(ns, proc, lx, top) protects_caps (ns, NULL, proc, lx, top)
#define NS_ALL "{\"type\": \"pid\"}, {\"type\": \"mount\"}, {\"type\": \"network\"}"
#define USERNS ", {\"type\": \"user\"}], \"uidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]," \
               " \"gidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}"

static void
test_protects_decision (void **state)
{
  (void) state;
  assert_true (protects (NS_ALL, "", "", ""));
  /* The pid namespace must be the container's own. */
  assert_false (protects ("{\"type\": \"mount\"}", "", "", ""));
  assert_false (protects ("{\"type\": \"pid\", \"path\": \"/proc/1/ns/pid\"}, {\"type\": \"mount\"}", "", "", ""));
  /* CAP_SYS_PTRACE in any set, unless moat makes the user namespace. */
  assert_false (protects_caps (NS_ALL, "{\"bounding\": [\"CAP_SYS_PTRACE\"]}", "", "", ""));
  assert_false (protects_caps (NS_ALL, "{\"inheritable\": [\"CAP_SYS_PTRACE\"]}", "", "", ""));
  assert_false (protects_caps (NS_ALL, "{\"bounding\": [\"CAP_SYS_PTRACE\"], \"inheritable\": [\"CAP_SYS_PTRACE\"],"
                               " \"ambient\": [\"CAP_SYS_PTRACE\"], \"permitted\": [\"CAP_SYS_PTRACE\"]}", "", "", ""));
  assert_true (protects_caps (NS_ALL USERNS, "{\"bounding\": [\"CAP_SYS_PTRACE\"]}", "", "", ""));
  /* Hooks the init runs, LSM labels, a seccomp listener. */
  assert_false (protects (NS_ALL, "", "", ", \"hooks\": {\"startContainer\": [{\"path\": \"/bin/true\"}]}"));
  assert_false (protects (NS_ALL, "", "", ", \"hooks\": {\"createContainer\": [{\"path\": \"/bin/true\"}]}"));
  assert_true (protects (NS_ALL, "", "", ", \"hooks\": {\"createRuntime\": [{\"path\": \"/bin/true\"}],"
                         " \"prestart\": [{\"path\": \"/bin/true\"}]}"));
  assert_false (protects (NS_ALL, ", \"apparmorProfile\": \"p\"", "", ""));
  assert_false (protects (NS_ALL, ", \"selinuxLabel\": \"system_u:system_r:t:s0\"", "", ""));
  /* A filter that could refuse the stub's own syscalls. */
  assert_true (protects (NS_ALL, ", \"noNewPrivileges\": true",
                         ", \"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\":"
                         " [\"execve\", \"execveat\", \"fcntl\", \"exit_group\"], \"action\": \"SCMP_ACT_ALLOW\"}]}", ""));
  assert_false (protects (NS_ALL, ", \"noNewPrivileges\": true",
                          ", \"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\":"
                          " [\"execve\", \"fcntl\"], \"action\": \"SCMP_ACT_ALLOW\"}]}", ""));
  assert_false (protects (NS_ALL, ", \"noNewPrivileges\": true",
                          ", \"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\":"
                          " [\"fcntl\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 1, \"value\": 2,"
                          " \"op\": \"SCMP_CMP_EQ\"}]}]}", ""));
  /* Without no_new_privs the filter is loaded before our prctl. */
  assert_false (protects (NS_ALL, "",
                          ", \"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\":"
                          " [\"execve\", \"execveat\", \"fcntl\"], \"action\": \"SCMP_ACT_ALLOW\"}]}", ""));
}

/* Run the stub from FD with ARGV; returns its exit status and what it wrote
   on the report connection (NULL argv[1]: it gets the connection's number). */
static int
run_stub (int fd, const char **argv, char *reply, size_t size)
{
  int sv[2], st;
  char num[16];
  ssize_t n, off = 0;
  pid_t pid;

  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      fcntl (sv[1], F_SETFD, 0);
      snprintf (num, sizeof num, "%d", sv[1]);
      if (argv[1] == NULL)
        argv[1] = num;
      syscall (SYS_execveat, fd, "", argv, (char *[]){ NULL }, AT_EMPTY_PATH);
      _exit (99);
    }
  close (sv[1]);
  while (off < (ssize_t) size - 1 && (n = read (sv[0], reply + off, size - 1 - (size_t) off)) > 0)
    off += n;
  reply[off] = '\0';
  close (sv[0]);
  assert_int_equal (waitpid (pid, &st, 0), pid);
  return WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
}

static void
test_stub_runs (void **state)
{
  char reply[256], head[4];
  const char *ok[] = { "moat-exec", NULL, "/bin/sh", "sh", "-c", "exit 7", NULL };
  const char *missing[] = { "moat-exec", NULL, "/nonexistent/x", "x", NULL };
  const char *interp[] = { "/proc/self/exe", "/evil", "/bin/sh", "sh", NULL };
  int fd = moat_exec_stub_memfd ();

  (void) state;
  assert_true (fd >= 0);
  assert_int_equal (fcntl (fd, F_GET_SEALS) & F_SEALS_ALL, F_SEALS_ALL);
  assert_int_equal (pread (fd, head, 4, 0), 4);
  assert_memory_equal (head, "\177ELF", 4);
  assert_true (write (fd, "x", 1) < 0 && errno == EPERM);
  assert_true (fcntl (fd, F_GETFD) & FD_CLOEXEC);
  /* Success: the target runs, and the connection was closed by its exec
     (EOF, no message) even though the shell is still running then. */
  assert_int_equal (run_stub (fd, ok, reply, sizeof reply), 7);
  assert_string_equal (reply, "");
  assert_int_equal (run_stub (fd, missing, reply, sizeof reply), 127);
  assert_string_equal (reply, "exec `/nonexistent/x`\0012");
  /* As an interpreter (a "#!/proc/self/exe" entrypoint), it runs nothing. */
  assert_int_equal (run_stub (fd, interp, reply, sizeof reply), 127);
  assert_string_equal (reply, "");
  close (fd);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_protects_decision),
    cmocka_unit_test (test_stub_runs),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
