/* SPDX-License-Identifier: GPL-2.0-or-later */
/* moat-exec-stub: the last hop of a container init's execve (CVE-2019-5736).
 *
 * The init runs this from a sealed memfd, so that at the moment the kernel
 * executes the container's entrypoint, /proc/self/exe is this stub and not
 * the host moat binary: an entrypoint whose interpreter is /proc/self/exe
 * (a "#!/proc/self/exe" script, or an ELF with that PT_INTERP) then runs the
 * sealed stub, which a container process can hold but never write.  See
 * src/sandbox/exe_stub.c for when moat uses it instead of re-executing
 * itself from a sealed copy.
 *
 *   argv: { "moat-exec", REPORT_FD, PATH, ARGV0, ARGV1, ... }
 *
 * REPORT_FD is the connection on which the runtime waits for the container
 * process to start: the stub marks it close-on-exec, so the successful
 * execve of PATH closes it (the runtime reads EOF: running); a failed one
 * writes "exec `PATH`\1ERRNO" there (the runtime spells out the errno) and
 * exits 127.  Anything else, such as being run as an interpreter with
 * another argv, exits 127 at once.
 *
 * No libc: built with -nostdlib -static, so its exec costs the kernel's ELF
 * load and nothing else (no relocation, no CPU feature probing). */

#include <asm/unistd.h>

#define F_SETFD 2
#define FD_CLOEXEC 1
#define CLOSE_RANGE_CLOEXEC (1U << 2)

#if defined(__x86_64__)
static long
sys3 (long n, long a, long b, long c)
{
  long r;
  __asm__ volatile ("syscall" : "=a"(r) : "0"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}
__asm__ (".text\n"
         ".global _start\n"
         "_start:\n"
         "  xor %rbp, %rbp\n"
         "  mov %rsp, %rdi\n"
         "  and $-16, %rsp\n"
         "  call stub_main\n"
         "  hlt\n");
#elif defined(__aarch64__)
static long
sys3 (long n, long a, long b, long c)
{
  register long x8 __asm__ ("x8") = n;
  register long x0 __asm__ ("x0") = a;
  register long x1 __asm__ ("x1") = b;
  register long x2 __asm__ ("x2") = c;
  __asm__ volatile ("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
  return x0;
}
__asm__ (".text\n"
         ".global _start\n"
         "_start:\n"
         "  mov x0, sp\n"
         "  bl stub_main\n"
         "  brk #0\n");
#else
#error "moat-exec-stub: unsupported architecture"
#endif

__attribute__ ((noreturn)) static void
stub_exit (int code)
{
  for (;;)
    sys3 (__NR_exit_group, code, 0, 0);
}

static int
streq (const char *a, const char *b)
{
  while (*a && *a == *b)
    a++, b++;
  return *a == *b;
}

static unsigned long
len (const char *s)
{
  unsigned long n = 0;

  while (s[n])
    n++;
  return n;
}

static void
put (int fd, const char *s, unsigned long n)
{
  while (n > 0)
    {
      long w = sys3 (__NR_write, fd, (long) s, (long) n);
      if (w <= 0)
        return;
      s += w;
      n -= (unsigned long) w;
    }
}

/* A decimal fd number, nothing else. */
static int
parse_fd (const char *s)
{
  long v = 0;

  if (*s == '\0')
    return -1;
  for (; *s; s++)
    {
      if (*s < '0' || *s > '9' || v > 1000000)
        return -1;
      v = v * 10 + (*s - '0');
    }
  return (int) v;
}

__attribute__ ((noreturn, used)) void
stub_main (long *sp)
{
  long argc = sp[0];
  char **argv = (char **) (sp + 1);
  char **envp = argv + argc + 1;
  char num[24];
  int fd, i = (int) sizeof num;
  long r, e;

  if (argc < 4 || !streq (argv[0], "moat-exec"))
    stub_exit (127);
  fd = parse_fd (argv[1]);
  if (fd < 0)
    stub_exit (127);
  if (sys3 (__NR_fcntl, fd, F_SETFD, FD_CLOEXEC) < 0
      && sys3 (__NR_close_range, fd, fd, CLOSE_RANGE_CLOEXEC) < 0)
    {
      /* Left open it would leak into the container and hang the runtime. */
      static const char msg[] = "moat-exec-stub: cannot mark the start connection close-on-exec";
      put (fd, msg, sizeof msg - 1);
      stub_exit (127);
    }
  r = sys3 (__NR_execve, (long) argv[2], (long) (argv + 3), (long) envp);
  e = -r;
  num[--i] = '\0';
  do
    num[--i] = (char) ('0' + e % 10);
  while ((e /= 10) > 0 && i > 1);
  num[--i] = '\1';
  put (fd, "exec `", 6);
  put (fd, argv[2], len (argv[2]));
  put (fd, "`", 1);
  put (fd, num + i, len (num + i));
  stub_exit (127);
}
