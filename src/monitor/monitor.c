/* SPDX-License-Identifier: GPL-2.0-or-later */
/* moat-monitor: the supervisor of one detached container (see monitor.h).
 * Started by `moat run -d` with the settings on its command line
 * (args.c); it outlives that command, and nothing talks to it: `moat stop`,
 * `rm`, `ps`, `logs`, `inspect` read and write files in the record dir and
 * signal the container directly. */
#include "monitor/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container/events.h"
#include "util/fs.h"
#include "util/proc.h"

#define HEALTH_OUT_MAX 4096
#define BACKOFF_MIN_NS 100000000LL       /* 100 ms, doubled per restart, like Docker */
#define BACKOFF_MAX_NS 60000000000LL     /* 1 min */
#define BACKOFF_RESET_NS 10000000000LL   /* a run of 10 s resets the backoff */
#define REAPED_KEEP 8

struct mon
{
  struct mon_config *cfg;
  int dirfd;
  struct mon_log log;
  int out_fd, err_fd, health_fd; /* read ends; -1 at EOF */
  int req_fd, res_fd;
  int sig_fd, health_tfd, restart_tfd;
  pid_t spawner;
  struct moat_engine_status st;
  bool restart_pending;  /* the current death leads to a restart */
  bool health_inflight;
  bool create_inflight;
  bool finishing;        /* no more requests: drain and exit */
  unsigned backoff;
  unsigned health_seq;
  char health_out[HEALTH_OUT_MAX];
  size_t health_len;
  struct { pid_t pid; int status; } reaped[REAPED_KEEP]; /* exits seen before their pid was known */
  unsigned n_reaped;
  int report_rc;         /* told to the front end once the spawner is gone */
};

static void
emit (struct mon *m, const char *action, const struct moat_event_attr *extra, size_t n)
{
  struct moat_event_attr attrs[8] = {
    { "name", m->cfg->name },
    { "image", m->cfg->image },
  };
  size_t k = 2;

  for (size_t i = 0; i < n && k < 8; i++)
    attrs[k++] = extra[i];
  moat_event_emit (m->cfg->root, action, m->cfg->id, attrs, k);
}

static void
save (struct mon *m)
{
  struct moat_error err;

  moat_engine_status_write (m->dirfd, &m->st, &err);
}

static void
request (struct mon *m, char cmd)
{
  if (m->req_fd < 0 || write (m->req_fd, &cmd, 1) != 1)
    m->st.state = MOAT_ENGINE_EXITED;
}

/* The OOM-kill counter of the container's memory cgroup: v1
   (memory.oom_control) or v2 (memory.events), hybrid included. */
static bool
oom_killed (const char *cgroup)
{
  static const char *const files[][2] = { { "/sys/fs/cgroup/memory", "memory.oom_control" },
                                           { "/sys/fs/cgroup/unified", "memory.events" },
                                           { "/sys/fs/cgroup", "memory.events" } };

  for (size_t i = 0; cgroup && i < sizeof files / sizeof *files; i++)
    {
      char path[4200], buf[1024], *p;
      int fd;
      ssize_t n;

      snprintf (path, sizeof path, "%s%s/%s", files[i][0], cgroup, files[i][1]);
      fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        continue;
      n = read (fd, buf, sizeof buf - 1);
      close (fd);
      if (n <= 0)
        continue;
      buf[n] = '\0';
      for (p = buf; p; p = strchr (p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp (p, "oom_kill ", 9) == 0)
          return strtoull (p + 9, NULL, 10) > 0;
    }
  return false;
}

static void
arm (int tfd, int64_t first_ns, int64_t interval_ns)
{
  struct itimerspec its = {
    .it_value = { first_ns / 1000000000, first_ns % 1000000000 },
    .it_interval = { interval_ns / 1000000000, interval_ns % 1000000000 },
  };

  timerfd_settime (tfd, 0, &its, NULL);
}

static bool
stop_requested (struct mon *m)
{
  struct stat st;

  return fstatat (m->dirfd, "stop", &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static bool
wants_restart (struct mon *m)
{
  struct mon_config *c = m->cfg;

  if (stop_requested (m))
    return false;
  switch (c->restart)
    {
    case MON_RESTART_ON_FAILURE:
      return m->st.exit_code != 0 && (c->restart_max == 0 || m->st.restart_count < c->restart_max);
    case MON_RESTART_ALWAYS:
    case MON_RESTART_UNLESS_STOPPED:
      return true;
    default:
      return false;
    }
}

static void
on_death (struct mon *m, int status)
{
  char code[16];
  struct moat_event_attr attrs[2] = { { "exitCode", code }, { "oomKilled", NULL } };
  int64_t ran = moat_now_ns () - m->st.started_at;

  m->st.exit_code = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
  m->st.oom_killed = oom_killed (m->cfg->cgroup);
  m->st.finished_at = moat_now_ns ();
  m->st.pid = 0;
  arm (m->health_tfd, 0, 0);
  snprintf (code, sizeof code, "%d", m->st.exit_code);
  if (m->st.oom_killed)
    {
      attrs[1].value = "true";
      emit (m, "oom", NULL, 0);
    }
  emit (m, "die", attrs, 2);
  if (ran >= BACKOFF_RESET_NS)
    m->backoff = 0;
  m->restart_pending = wants_restart (m);
  m->st.state = m->restart_pending ? MOAT_ENGINE_RESTARTING : MOAT_ENGINE_EXITED;
  save (m);
  /* The OCI container is deleted after every exit: its cgroup and state go,
     the record stays for ps, logs and inspect until `moat rm`. */
  request (m, SPAWN_DELETE);
}

static void
finish (struct mon *m)
{
  if (m->finishing)
    return;
  m->finishing = true;
  if (m->cfg->remove)
    request (m, SPAWN_REMOVE);
  close (m->req_fd);
  m->req_fd = -1;
}

static void
schedule_restart (struct mon *m)
{
  int64_t delay = BACKOFF_MIN_NS << (m->backoff < 10 ? m->backoff : 10);

  if (delay > BACKOFF_MAX_NS)
    delay = BACKOFF_MAX_NS;
  m->backoff++;
  arm (m->restart_tfd, delay, 0);
}

/* The last error line moat wrote to moat.log, for `status`. */
static void
last_moat_error (struct mon *m, char *buf, size_t size)
{
  char tail[2048];
  int fd = openat (m->dirfd, "moat.log", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  off_t end;
  ssize_t n;
  char *line, *msg;

  snprintf (buf, size, "moat create/start failed");
  if (fd < 0)
    return;
  end = lseek (fd, 0, SEEK_END);
  n = pread (fd, tail, sizeof tail - 1, end > (off_t) sizeof tail - 1 ? end - (off_t) sizeof tail + 1 : 0);
  close (fd);
  if (n <= 0)
    return;
  tail[n] = '\0';
  while (n > 0 && tail[n - 1] == '\n')
    tail[--n] = '\0';
  line = strrchr (tail, '\n');
  line = line ? line + 1 : tail;
  msg = strstr (line, "\"msg\":\"");
  if (msg)
    {
      char *q = strchr (msg + 7, '"');
      snprintf (buf, size, "%.*s", q ? (int) (q - msg - 7) : (int) strlen (msg + 7), msg + 7);
    }
}

static void
report (struct mon *m, int rc)
{
  char buf[32];
  int n;

  if (m->cfg->report_fd < 0)
    return;
  n = rc == 0 ? snprintf (buf, sizeof buf, "ok\n") : snprintf (buf, sizeof buf, "err %d\n", rc);
  if (write (m->cfg->report_fd, buf, (size_t) n) < 0)
    {
      /* The front end is gone: nothing to tell. */
    }
  close (m->cfg->report_fd);
  m->cfg->report_fd = -1;
}

static void
started (struct mon *m, pid_t pid, bool restart)
{
  m->st.state = MOAT_ENGINE_RUNNING;
  m->st.pid = pid;
  m->st.started_at = moat_now_ns ();
  m->st.error[0] = '\0';
  if (restart)
    m->st.restart_count++;
  if (m->cfg->health_argv)
    {
      m->st.health = MOAT_HEALTH_STARTING;
      m->st.failing_streak = 0;
      arm (m->health_tfd, m->cfg->health_interval, m->cfg->health_interval);
    }
  save (m);
  if (restart)
    emit (m, "restart", NULL, 0);
  /* `moat stop` came while this restart was under way. */
  if (stop_requested (m))
    request (m, SPAWN_KILL);
  /* It may have died before its pid was known here. */
  for (unsigned i = 0; i < m->n_reaped && i < REAPED_KEEP; i++)
    if (m->reaped[i].pid == pid)
      on_death (m, m->reaped[i].status);
}

static void
on_create_result (struct mon *m, const struct spawn_result *r)
{
  bool first = m->cfg->report_fd >= 0;

  m->create_inflight = false;
  if (r->rc == 0)
    {
      report (m, 0);
      started (m, r->pid, !first);
      return;
    }
  last_moat_error (m, m->st.error, sizeof m->st.error);
  m->st.exit_code = r->rc;
  m->st.finished_at = moat_now_ns ();
  if (!first && !stop_requested (m) && m->cfg->restart != MON_RESTART_NO
      && (m->cfg->restart_max == 0 || m->st.restart_count < m->cfg->restart_max))
    {
      /* A failed restart counts as one and is retried with the backoff. */
      m->st.restart_count++;
      m->st.state = MOAT_ENGINE_RESTARTING;
      save (m);
      schedule_restart (m);
      return;
    }
  m->st.state = MOAT_ENGINE_EXITED;
  save (m);
  if (first)
    {
      /* Tell the front end only once the spawner is gone, so that it can
         remove the record behind us. */
      m->cfg->remove = false;
      m->report_rc = r->rc;
    }
  finish (m);
}

/* health.<n> keeps the last MOAT_HEALTH_KEEP results for `moat inspect`:
   "START_NS END_NS EXIT_CODE\n" then the check's output (at most 4 KiB). */
static void
save_health_result (struct mon *m, const struct spawn_result *r)
{
  char name[32], head[96];
  struct moat_error err;
  char *buf;
  int n;

  snprintf (name, sizeof name, "health.%u", m->health_seq++ % MOAT_HEALTH_KEEP);
  n = snprintf (head, sizeof head, "%lld %lld %d\n", (long long) r->start_ns, (long long) r->end_ns, r->rc);
  buf = malloc ((size_t) n + m->health_len + 64);
  if (buf == NULL)
    return;
  memcpy (buf, head, (size_t) n);
  if (r->rc == -1)
    n += snprintf (buf + n, 64, "health check exceeded timeout (%llds)\n",
                   (long long) (m->cfg->health_timeout / 1000000000));
  else
    {
      memcpy (buf + n, m->health_out, m->health_len);
      n += (int) m->health_len;
    }
  moat_write_file_atomic (m->dirfd, name, buf, (size_t) n, 0600, &err);
  free (buf);
}

static void
drain_health (struct mon *m)
{
  char scratch[4096];
  ssize_t n;

  while (m->health_fd >= 0)
    {
      size_t room = sizeof m->health_out - m->health_len;
      char *to = room ? m->health_out + m->health_len : scratch;

      n = read (m->health_fd, to, room ? room : sizeof scratch);
      if (n == 0)
        {
          close (m->health_fd);
          m->health_fd = -1;
        }
      if (n <= 0)
        break;
      if (room)
        m->health_len += (size_t) n;
    }
}

static void
on_health_result (struct mon *m, const struct spawn_result *r)
{
  enum moat_health before = m->st.health;
  bool in_start_period = r->start_ns - m->st.started_at < m->cfg->health_start_period;

  m->health_inflight = false;
  drain_health (m);
  save_health_result (m, r);
  m->health_len = 0;
  if (m->st.state != MOAT_ENGINE_RUNNING)
    return;
  if (r->rc == 0)
    {
      m->st.health = MOAT_HEALTH_HEALTHY;
      m->st.failing_streak = 0;
    }
  else if (!in_start_period)
    {
      /* Failures in the start period do not count, as in Docker. */
      m->st.failing_streak++;
      if (m->st.failing_streak >= m->cfg->health_retries)
        m->st.health = MOAT_HEALTH_UNHEALTHY;
    }
  save (m);
  if (m->st.health != before)
    {
      struct moat_event_attr a = { "healthStatus", moat_health_name (m->st.health) };
      emit (m, "health_status", &a, 1);
    }
}

static void
on_result (struct mon *m)
{
  struct spawn_result r;

  if (read (m->res_fd, &r, sizeof r) != (ssize_t) sizeof r)
    {
      close (m->res_fd);
      m->res_fd = -1;
      return;
    }
  switch (r.cmd)
    {
    case SPAWN_CREATE:
      on_create_result (m, &r);
      break;
    case SPAWN_HEALTH:
      on_health_result (m, &r);
      break;
    case SPAWN_DELETE:
      if (m->st.state != MOAT_ENGINE_RESTARTING)
        finish (m);
      else if (stop_requested (m))
        {
          m->st.state = MOAT_ENGINE_EXITED;
          save (m);
          finish (m);
        }
      else
        schedule_restart (m);
      break;
    default:
      break;
    }
}

static void
on_restart_timer (struct mon *m)
{
  if (m->st.state != MOAT_ENGINE_RESTARTING || m->finishing)
    return;
  if (stop_requested (m))
    {
      m->st.state = MOAT_ENGINE_EXITED;
      save (m);
      finish (m);
      return;
    }
  m->create_inflight = true;
  request (m, SPAWN_CREATE);
}

/* `moat stop` creates the "stop" file, then sends SIGUSR1: a stop while
   waiting out the restart backoff ends it now, not when the (up to a
   minute) timer fires.  (A signal, not inotify: inotify instances are
   limited to 128 per user by default, and each monitor would take one.) */
static void
on_stop_signal (struct mon *m)
{
  /* A create under way is answered first (started() kills it). */
  if (m->st.state == MOAT_ENGINE_RESTARTING && !m->create_inflight && stop_requested (m))
    on_restart_timer (m);
}

static void
on_health_timer (struct mon *m)
{
  if (m->st.state != MOAT_ENGINE_RUNNING || m->health_inflight || m->finishing)
    return;
  drain_health (m);
  m->health_len = 0;
  m->health_inflight = true;
  request (m, SPAWN_HEALTH);
}

static void
on_sigchld (struct mon *m)
{
  int status;
  pid_t pid;

  while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
    {
      if (pid == m->spawner)
        {
          m->spawner = 0;
          if (m->res_fd >= 0)
            {
              close (m->res_fd);
              m->res_fd = -1;
            }
          if (m->cfg->report_fd >= 0)
            report (m, m->report_rc ? m->report_rc : 1);
          if (!m->finishing)
            {
              snprintf (m->st.error, sizeof m->st.error, "the monitor's spawner died: no restarts or health checks");
              save (m);
            }
        }
      else if (pid == m->st.pid && m->st.state == MOAT_ENGINE_RUNNING)
        on_death (m, status);
      else
        {
          m->reaped[m->n_reaped % REAPED_KEEP].pid = pid;
          m->reaped[m->n_reaped % REAPED_KEEP].status = status;
          m->n_reaped++;
        }
    }
}

static void
read_stream (struct mon *m, int *fd, enum mon_stream s)
{
  char buf[65536];
  ssize_t n = read (*fd, buf, sizeof buf);

  if (n > 0)
    mon_log_data (&m->log, s, buf, (size_t) n);
  else if (n == 0 || (errno != EAGAIN && errno != EINTR))
    {
      close (*fd);
      *fd = -1;
    }
}

static void
on_timer (int tfd, struct mon *m, void (*fn) (struct mon *))
{
  uint64_t ticks;

  if (read (tfd, &ticks, sizeof ticks) == (ssize_t) sizeof ticks)
    fn (m);
}

static void
loop (struct mon *m)
{
  /* Done once nothing is left to do: the spawner has exited (after the
     last request) and both streams are at EOF (the container is gone). */
  while (m->spawner > 0 || m->out_fd >= 0 || m->err_fd >= 0)
    {
      struct pollfd p[7] = {
        { .fd = m->sig_fd, .events = POLLIN },     { .fd = m->out_fd, .events = POLLIN },
        { .fd = m->err_fd, .events = POLLIN },     { .fd = m->res_fd, .events = POLLIN },
        { .fd = m->health_fd, .events = POLLIN },  { .fd = m->health_tfd, .events = POLLIN },
        { .fd = m->restart_tfd, .events = POLLIN },
      };

      if (poll (p, 7, m->spawner > 0 ? -1 : 1000) <= 0)
        {
          if (errno == EINTR)
            continue;
          break; /* streams still open with no spawner for 1 s: a leaked writer */
        }
      if (p[1].revents)
        read_stream (m, &m->out_fd, MON_STDOUT);
      if (p[2].revents)
        read_stream (m, &m->err_fd, MON_STDERR);
      if (p[4].revents)
        drain_health (m);
      if (p[3].revents)
        on_result (m);
      if (p[0].revents)
        {
          struct signalfd_siginfo si;
          while (read (m->sig_fd, &si, sizeof si) == (ssize_t) sizeof si)
            if (si.ssi_signo == SIGUSR1)
              on_stop_signal (m);
            else
              on_sigchld (m);
        }
      if (p[5].revents)
        on_timer (m->health_tfd, m, on_health_timer);
      if (p[6].revents)
        on_timer (m->restart_tfd, m, on_restart_timer);

    }
}

static int
pipe_pair (int fds[2])
{
  return pipe2 (fds, O_CLOEXEC);
}

/* The container's and the spawner's fds; fork the spawner before the
   monitor confines itself. */
static int
setup (struct mon *m)
{
  int out[2], err[2], health[2], req[2], res[2];
  sigset_t mask;

  if (pipe_pair (out) < 0 || pipe_pair (err) < 0 || pipe_pair (health) < 0 || pipe_pair (req) < 0
      || pipe_pair (res) < 0)
    return -1;
  m->spawner = fork ();
  if (m->spawner < 0)
    return -1;
  if (m->spawner == 0)
    {
      struct spawner_fds fds = { .req = req[0], .res = res[1], .out = out[1], .err = err[1], .health = health[1] };
      close (out[0]);
      close (err[0]);
      close (health[0]);
      close (req[1]);
      close (res[0]);
      close (m->log.fd);
      close (m->log.dropped_fd);
      if (m->cfg->report_fd >= 0)
        close (m->cfg->report_fd);
      mon_spawner (m->cfg, &fds);
      _exit (0);
    }
  close (out[1]);
  close (err[1]);
  close (health[1]);
  close (req[0]);
  close (res[1]);
  m->out_fd = out[0];
  m->err_fd = err[0];
  m->health_fd = health[0];
  m->req_fd = req[1];
  m->res_fd = res[0];
  fcntl (m->out_fd, F_SETFL, O_NONBLOCK);
  fcntl (m->err_fd, F_SETFL, O_NONBLOCK);
  fcntl (m->health_fd, F_SETFL, O_NONBLOCK);
  /* Stray job-control signals must not end the supervisor of a running
     container; SIGKILL still does (ps then reports it). */
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  sigaddset (&mask, SIGTERM);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGHUP);
  sigaddset (&mask, SIGQUIT);
  sigaddset (&mask, SIGUSR1);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  signal (SIGPIPE, SIG_IGN);
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  sigaddset (&mask, SIGUSR1);
  m->sig_fd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  m->health_tfd = timerfd_create (CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  m->restart_tfd = timerfd_create (CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (m->sig_fd < 0 || m->health_tfd < 0 || m->restart_tfd < 0)
    return -1;
  return 0;
}

/* Set-up failed: say why in moat.log (where the front end reads errors). */
static int
fail (struct mon *m, const char *what)
{
  char line[512];
  int e = errno, fd, n;

  n = snprintf (line, sizeof line, "{\"level\":\"error\",\"msg\":\"monitor: %s: %s\"}\n", what, strerror (e));
  fd = m->dirfd >= 0 ? openat (m->dirfd, "moat.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600)
                     : -1;
  if (fd >= 0 && write (fd, line, (size_t) n) < 0)
    n = 0;
  if (fd >= 0)
    close (fd);
  report (m, 1);
  return 1;
}

int
mon_run (struct mon_config *cfg)
{
  static struct mon m;
  int r;

  m.cfg = cfg;
  prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  umask (077);
  m.dirfd = open (cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (m.dirfd < 0)
    return fail (&m, "open the record");
  if ((r = mon_log_open (&m.log, m.dirfd, cfg->log_max_size, cfg->log_max_files)) < 0)
    {
      errno = -r;
      return fail (&m, "open the log");
    }
  m.st.state = MOAT_ENGINE_CREATED;
  m.st.monitor_pid = getpid ();
  m.st.monitor_start = moat_pid_starttime (getpid ());
  m.st.exit_code = -1;
  save (&m);
  if (setup (&m) < 0)
    return fail (&m, "set up");
  if ((r = mon_confine ()) < 0)
    {
      errno = -r;
      return fail (&m, "seccomp");
    }
  m.create_inflight = true;
  request (&m, SPAWN_CREATE);
  loop (&m);
  return m.report_rc ? 1 : 0;
}
