/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/syscalls.h"

/* Open a pty pair from the container's own devpts instance.  The peer comes
 * from TIOCGPTPEER on the master, never from a path under the container's
 * /dev/pts, which the container could have swapped (CVE-2025-52565). */
int
moat_console_open (int rootfd, int *master, int *peer, struct moat_error *err)
{
  cleanup_fd int m = moat_open_in_root (rootfd, "/dev/pts/ptmx", O_RDWR | O_NOCTTY, 0, err);
  int unlock = 0;
  int p;

  if (m < 0)
    {
      /* No devpts mount in the config: fall back to the runtime's ptmx. */
      m = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (m < 0)
        return moat_err (err, errno, "open ptmx");
    }
  if (ioctl (m, TIOCSPTLCK, &unlock) < 0)
    return moat_err (err, errno, "unlock pty");
  p = ioctl (m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (p < 0)
    return moat_err (err, errno, "open pty peer");
  *master = steal_fd (&m);
  *peer = p;
  return 0;
}

/* Bind the pty peer onto /dev/console.  The file is created with mknodat
 * beneath the rootfs (a pre-existing symlink is not followed) and the mount
 * goes through fds on both sides. */
int
moat_console_bind (int rootfd, int peer, struct moat_error *err)
{
  cleanup_fd int target = moat_ensure_in_root (rootfd, "/dev/console", false, err);
  char src[64], dst[64];
  struct stat st;

  if (target < 0)
    return moat_error_wrap (err, "/dev/console");
  if (fstat (target, &st) < 0)
    return moat_err (err, errno, "/dev/console");
  if (!S_ISREG (st.st_mode) && !S_ISCHR (st.st_mode))
    return moat_err (err, EINVAL, "/dev/console: not a file");
  snprintf (src, sizeof src, "/proc/self/fd/%d", peer);
  snprintf (dst, sizeof dst, "/proc/self/fd/%d", target);
  if (mount (src, dst, NULL, MS_BIND, NULL) < 0)
    return moat_err (err, errno, "bind the pty onto /dev/console");
  return 0;
}

/* Send DATA with FD attached (SCM_RIGHTS): the pty master to a console
 * socket, a seccomp listener back to the runtime. */
int
moat_send_fd (int sock, const void *data, size_t len, int fd, struct moat_error *err)
{
  struct iovec iov = { (void *) data, len };
  char cbuf[CMSG_SPACE (sizeof (int))];
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = sizeof cbuf };
  struct cmsghdr *c;

  memset (cbuf, 0, sizeof cbuf);
  c = CMSG_FIRSTHDR (&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (c), &fd, sizeof (int));
  if (sendmsg (sock, &msg, MSG_NOSIGNAL) < 0)
    return moat_err (err, errno, "send an fd");
  return 0;
}

int
moat_console_send (int sock, int master, struct moat_error *err)
{
  /* runc sends the name of the pty with the fd; consumers ignore it. */
  if (moat_send_fd (sock, "/dev/ptmx", 9, master, err) < 0)
    return moat_error_wrap (err, "send the pty master to --console-socket");
  return 0;
}

int
moat_console_connect (const char *path, int *fd, struct moat_error *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_fd int s = -1;

  if (strlen (path) >= sizeof addr.sun_path)
    return moat_err (err, ENAMETOOLONG, "--console-socket `%s`", path);
  strcpy (addr.sun_path, path);
  s = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return moat_err (err, errno, "--console-socket: socket");
  if (connect (s, (struct sockaddr *) &addr, sizeof addr) < 0)
    return moat_err (err, errno, "--console-socket `%s`", path);
  *fd = steal_fd (&s);
  return 0;
}

int
moat_console_become_ctty (int peer, const struct moat_process *p, struct moat_error *err)
{
  int i;

  if (setsid () < 0)
    return moat_err (err, errno, "setsid");
  if (ioctl (peer, TIOCSCTTY, 0) < 0)
    return moat_err (err, errno, "set the controlling terminal");
  for (i = 0; i < 3; i++)
    if (dup2 (peer, i) < 0)
      return moat_err (err, errno, "dup the terminal onto fd %d", i);
  return 0;
}

static bool
copy_once (int from, int to)
{
  char buf[8192];
  ssize_t n = read (from, buf, sizeof buf);
  char *p = buf;

  if (n <= 0)
    return n < 0 && (errno == EINTR || errno == EAGAIN);
  while (n > 0)
    {
      ssize_t w = write (to, p, (size_t) n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return false;
      p += w;
      n -= w;
    }
  return true;
}

void
moat_console_relay_step (int master, bool *stdin_open, bool *done)
{
  struct pollfd fds[2] = { { .fd = master, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
  int r = poll (fds, *stdin_open ? 2 : 1, 100);

  if (r <= 0)
    return;
  if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
    if (!copy_once (master, 1))
      *done = true;
  if (*stdin_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
    if (!copy_once (0, master))
      *stdin_open = false;
}

int
moat_console_recv (int sock, int *fd, struct moat_error *err)
{
  char name[16];
  struct iovec iov = { name, 9 };
  char cbuf[CMSG_SPACE (sizeof (int))];
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = sizeof cbuf };
  struct cmsghdr *c;

  *fd = -1;
  if (recvmsg (sock, &msg, MSG_CMSG_CLOEXEC) <= 0)
    return moat_err (err, errno ? errno : EPIPE, "receive the pty master");
  for (c = CMSG_FIRSTHDR (&msg); c; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      memcpy (fd, CMSG_DATA (c), sizeof (int));
  if (*fd < 0)
    return moat_err (err, EPROTO, "receive the pty master: no fd");
  return 0;
}
