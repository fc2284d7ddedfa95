/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `pull`: fetch an image from an OCI distribution registry (distribution-spec
 * spec.md "Pulling manifests" / "Pulling blobs") with libcurl.  The tag is
 * resolved to a manifest digest once and everything after is fetched by
 * digest; every blob goes through moat_store_put, which stops at the
 * descriptor size and checks the SHA-256 before anything refers to it; the
 * result is then verified and named by moat_image_commit, the same code as
 * `image load` (security-anchors 5.5 rules 1-4). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "image/image.h"
#include "util/cleanup.h"

#define ACCEPT_MANIFESTS                                                                                     \
  "Accept: " MT_OCI_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST

struct reg
{
  CURL *c;
  struct moat_pull_ref r;
  const struct moat_pull_opts *po;
  char *auth;       /* "Authorization: Bearer ..." or NULL */
  bool basic;       /* send the credentials as basic auth */
  /* From the last response's headers. */
  char hdr_digest[160];
  char hdr_type[160];
  char hdr_auth[2048];
};

/* ---- references ---- */

static bool
all_of (const char *s, size_t n, const char *set)
{
  return n > 0 && strspn (s, set) >= n;
}

/* The host part without the port, for the loopback and insecure checks. */
static void
host_only (const char *hostport, char *out, size_t size)
{
  const char *end;

  if (hostport[0] == '[' && (end = strchr (hostport, ']')))
    snprintf (out, size, "%.*s", (int) (end - hostport - 1), hostport + 1);
  else
    snprintf (out, size, "%.*s", (int) strcspn (hostport, ":"), hostport);
}

static bool
is_loopback (const char *hostport)
{
  char h[256];
  struct in_addr a4;
  struct in6_addr a6;

  host_only (hostport, h, sizeof h);
  if (strcasecmp (h, "localhost") == 0)
    return true;
  if (inet_pton (AF_INET, h, &a4) == 1)
    return (ntohl (a4.s_addr) >> 24) == 127;
  return inet_pton (AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK (&a6);
}

static bool
is_insecure (const struct moat_pull_opts *po, const char *hostport)
{
  char h[256];
  size_t i;

  host_only (hostport, h, sizeof h);
  for (i = 0; i < po->n_insecure; i++)
    if (strcasecmp (po->insecure[i], hostport) == 0 || strcasecmp (po->insecure[i], h) == 0)
      return true;
  return false;
}

#define REPO_CHARS "abcdefghijklmnopqrstuvwxyz0123456789._-/"
#define TAG_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
#define HOST_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]"

/* [http[s]://][host[:port]/]repo[:tag][@sha256:hex]; Docker Hub defaults
 * (docker.io, library/, latest).  The scheme is decided here, before any
 * network I/O: HTTPS, or HTTP only for loopback or --insecure-registry. */
int
moat_pull_parse_ref (const char *in, const struct moat_pull_opts *po, struct moat_pull_ref *r, struct moat_error *err)
{
  char buf[600], *at, *slash, *colon, *rest = buf;
  const char *want = NULL;

  memset (r, 0, sizeof *r);
  if (strncmp (in, "https://", 8) == 0)
    want = "https", in += 8;
  else if (strncmp (in, "http://", 7) == 0)
    want = "http", in += 7;
  if (strlen (in) >= sizeof buf - 16 || *in == '\0')
    return moat_err (err, EINVAL, "reference `%s`: invalid", in);
  snprintf (buf, sizeof buf, "%s", in);
  at = strchr (buf, '@');
  if (at)
    {
      *at++ = '\0';
      if (!moat_digest_valid (at))
        return moat_err (err, EINVAL, "reference `%s`: `%s` is not a sha256 digest", in, at);
      snprintf (r->digest, sizeof r->digest, "%s", at);
    }
  slash = strchr (buf, '/');
  if (slash && (memchr (buf, '.', (size_t) (slash - buf)) || memchr (buf, ':', (size_t) (slash - buf))
                || strncmp (buf, "localhost/", 10) == 0 || buf[0] == '['))
    {
      *slash = '\0';
      if (!all_of (buf, strlen (buf), HOST_CHARS) || strlen (buf) >= sizeof r->host)
        return moat_err (err, EINVAL, "reference `%s`: invalid registry host `%s`", in, buf);
      snprintf (r->host, sizeof r->host, "%s", buf);
      rest = slash + 1;
    }
  else
    snprintf (r->host, sizeof r->host, "docker.io");
  slash = strrchr (rest, '/');
  colon = strchr (slash ? slash : rest, ':');
  if (colon)
    {
      *colon++ = '\0';
      if (strlen (colon) > 128 || !all_of (colon, strlen (colon), TAG_CHARS))
        return moat_err (err, EINVAL, "reference `%s`: invalid tag `%s`", in, colon);
      snprintf (r->tag, sizeof r->tag, "%s", colon);
    }
  else if (r->digest[0] == '\0')
    snprintf (r->tag, sizeof r->tag, "latest");
  if (!all_of (rest, strlen (rest), REPO_CHARS) || rest[0] == '/' || strstr (rest, "//") || strstr (rest, "..")
      || rest[strlen (rest) - 1] == '/')
    return moat_err (err, EINVAL, "reference `%s`: invalid repository `%s` (lower-case, digits, `._-/`)", in, rest);
  if (strcmp (r->host, "docker.io") == 0 || strcmp (r->host, "index.docker.io") == 0)
    {
      snprintf (r->host, sizeof r->host, "docker.io");
      snprintf (r->api, sizeof r->api, "registry-1.docker.io");
      snprintf (r->repo, sizeof r->repo, "%s%s", strchr (rest, '/') ? "" : "library/", rest);
    }
  else
    {
      snprintf (r->api, sizeof r->api, "%s", r->host);
      snprintf (r->repo, sizeof r->repo, "%s", rest);
    }
  if (is_loopback (r->api) || is_insecure (po, r->api))
    r->scheme = want ? want : "http";
  else if (want && strcmp (want, "http") == 0)
    /* Plain HTTP lets anyone on the path swap the manifest for another
       image of their choice before a digest is pinned. */
    return moat_err (err, 0, "registry `%s`: plain HTTP is allowed only for loopback registries or with "
                     "--insecure-registry %s", r->api, r->api);
  else
    r->scheme = "https";
  return 0;
}

/* ---- HTTP ---- */

struct mem_sink
{
  char *buf;
  size_t len, cap;
  bool over;
};

struct fd_sink
{
  int fd;
  bool broken;
  /* Progress on a terminal (stderr is a tty): layer n/m, bytes, rate.
     Nothing is printed when stderr is not a terminal. */
  bool tty;
  size_t index, count;
  int64_t size, done;
  struct timespec t0, last;
};

static double
seconds_since (const struct timespec *t)
{
  struct timespec now;

  clock_gettime (CLOCK_MONOTONIC, &now);
  return (double) (now.tv_sec - t->tv_sec) + (double) (now.tv_nsec - t->tv_nsec) / 1e9;
}

static void
progress (struct fd_sink *f, bool final)
{
  double el = seconds_since (&f->t0);

  /* At most ten updates a second; always the last one. */
  if (!f->tty || (!final && seconds_since (&f->last) < 0.1))
    return;
  clock_gettime (CLOCK_MONOTONIC, &f->last);
  fprintf (stderr, "\r%s %zu/%zu: %.1f/%.1f MiB, %.1f MiB/s%s", f->index == 0 ? "config" : "layer",
           f->index == 0 ? (size_t) 1 : f->index, f->index == 0 ? (size_t) 1 : f->count,
           (double) f->done / 1048576.0, (double) f->size / 1048576.0,
           el > 0 ? (double) f->done / 1048576.0 / el : 0.0, final ? "\n" : "   ");
}

static size_t
on_header (char *p, size_t sz, size_t n, void *ctx)
{
  struct reg *g = ctx;
  size_t len = sz * n, v;
  char line[2048];

  snprintf (line, sizeof line, "%.*s", (int) (len < sizeof line ? len : sizeof line - 1), p);
  line[strcspn (line, "\r\n")] = '\0';
  if (strncmp (line, "HTTP/", 5) == 0)
    {
      /* A new response (after a redirect): forget the previous one. */
      g->hdr_digest[0] = g->hdr_type[0] = g->hdr_auth[0] = '\0';
      return len;
    }
  v = strcspn (line, ":");
  if (line[v] != ':')
    return len;
  line[v++] = '\0';
  while (line[v] == ' ' || line[v] == '\t')
    v++;
  if (strcasecmp (line, "Docker-Content-Digest") == 0)
    snprintf (g->hdr_digest, sizeof g->hdr_digest, "%s", line + v);
  else if (strcasecmp (line, "Content-Type") == 0)
    snprintf (g->hdr_type, sizeof g->hdr_type, "%.*s", (int) strcspn (line + v, "; "), line + v);
  else if (strcasecmp (line, "WWW-Authenticate") == 0)
    snprintf (g->hdr_auth, sizeof g->hdr_auth, "%s", line + v);
  return len;
}

static long
status_of (CURL *c)
{
  long st = 0;

  curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &st);
  return st;
}

/* Only a successful response's body is kept; error bodies are dropped. */
static size_t
mem_write (char *p, size_t sz, size_t n, void *ctx)
{
  struct reg *g = ((void **) ctx)[0];
  struct mem_sink *m = ((void **) ctx)[1];
  size_t len = sz * n;

  if (status_of (g->c) != 200)
    return len;
  if (m->len + len > m->cap)
    {
      m->over = true;
      return 0;
    }
  memcpy (m->buf + m->len, p, len);
  m->len += len;
  return len;
}

static size_t
fd_write (char *p, size_t sz, size_t n, void *ctx)
{
  struct reg *g = ((void **) ctx)[0];
  struct fd_sink *f = ((void **) ctx)[1];
  size_t len = sz * n, off = 0;

  if (status_of (g->c) != 200)
    return len;
  while (off < len)
    {
      ssize_t w = write (f->fd, p + off, len - off);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        {
          /* The store stopped reading (too long or a digest mismatch). */
          f->broken = true;
          return 0;
        }
      off += (size_t) w;
    }
  f->done += (int64_t) len;
  progress (f, false);
  return len;
}

static void
setup_handle (struct reg *g, const char *url, struct curl_slist *hdrs)
{
  CURL *c = g->c;
  bool tls = strcmp (g->r.scheme, "https") == 0;

  curl_easy_reset (c);
  curl_easy_setopt (c, CURLOPT_URL, url);
  curl_easy_setopt (c, CURLOPT_PROTOCOLS_STR, tls ? "https" : "http,https");
  /* Blob downloads are often redirected to a CDN: follow, but never from
     HTTPS down to HTTP.  curl drops Authorization on a host change. */
  curl_easy_setopt (c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt (c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt (c, CURLOPT_REDIR_PROTOCOLS_STR, tls ? "https" : "http,https");
  curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt (c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt (c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (c, CURLOPT_USERAGENT, "moat");
  curl_easy_setopt (c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt (c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt (c, CURLOPT_HEADERDATA, g);
  if (g->basic && g->po->creds)
    {
      curl_easy_setopt (c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
      curl_easy_setopt (c, CURLOPT_USERPWD, g->po->creds);
    }
}

/* One GET; the body goes to WRITE(SINK).  Returns the HTTP status. */
static int
get_once (struct reg *g, const char *url, const char *accept, curl_write_callback wr, void *sink, long *status,
          struct moat_error *err)
{
  struct curl_slist *h = NULL, *t;
  void *ctx[2] = { g, sink };
  CURLcode rc;

  if (accept && (t = curl_slist_append (h, accept)))
    h = t;
  if (g->auth && (t = curl_slist_append (h, g->auth)))
    h = t;
  setup_handle (g, url, h);
  curl_easy_setopt (g->c, CURLOPT_WRITEFUNCTION, wr);
  curl_easy_setopt (g->c, CURLOPT_WRITEDATA, ctx);
  rc = curl_easy_perform (g->c);
  curl_slist_free_all (h);
  *status = status_of (g->c);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && *status == 200))
    return moat_err (err, 0, "GET %s: %s", url, curl_easy_strerror (rc));
  return 0;
}

/* Value of KEY="..." in a WWW-Authenticate challenge. */
static bool
challenge_param (const char *ch, const char *key, char *out, size_t size)
{
  size_t kl = strlen (key);
  const char *p = ch, *e;

  while ((p = strcasestr (p, key)))
    {
      if ((p == ch || p[-1] == ' ' || p[-1] == ',') && p[kl] == '=')
        {
          p += kl + 1;
          if (*p == '"')
            e = strchr (++p, '"');
          else
            e = p + strcspn (p, ",");
          if (e == NULL || (size_t) (e - p) >= size)
            return false;
          snprintf (out, size, "%.*s", (int) (e - p), p);
          return true;
        }
      p += kl;
    }
  return false;
}

/* The token endpoint gets the credentials, so it must be HTTPS unless it is
 * on loopback or an --insecure-registry host. */
static int
check_realm (struct reg *g, const char *realm, struct moat_error *err)
{
  CURLU *u = curl_url ();
  char *scheme = NULL, *host = NULL, *port = NULL, hp[300];
  int ret = -1;

  if (u == NULL || curl_url_set (u, CURLUPART_URL, realm, 0) != CURLUE_OK
      || curl_url_get (u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
      || curl_url_get (u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
    moat_err (err, EINVAL, "registry token realm `%s`: not a URL", realm);
  else
    {
      if (curl_url_get (u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
        snprintf (hp, sizeof hp, "%s:%s", host, port);
      else
        snprintf (hp, sizeof hp, "%s", host);
      if (strcasecmp (scheme, "https") == 0
          || (strcasecmp (scheme, "http") == 0 && (is_loopback (hp) || is_insecure (g->po, hp))))
        ret = 0;
      else
        moat_err (err, EPERM, "registry token realm `%s`: must be https (or a loopback/--insecure-registry host)", realm);
    }
  curl_free (scheme);
  curl_free (host);
  curl_free (port);
  curl_url_cleanup (u);
  return ret;
}

/* React to a 401: a Bearer challenge gets a token from its realm (with the
 * service and scope it names, the credentials as basic auth); a Basic one
 * gets the credentials. */
static int
authenticate (struct reg *g, struct moat_error *err)
{
  char ch[sizeof g->hdr_auth], realm[1024], service[256] = "", scope[512], url[2500];
  struct mem_sink m = { .cap = 1 << 20 };
  cleanup_json json_t *doc = NULL;
  const char *tok;
  char *e1, *e2;
  long st;
  bool was_basic = g->basic;

  snprintf (ch, sizeof ch, "%s", g->hdr_auth);
  if (strncasecmp (ch, "Basic", 5) == 0)
    {
      if (g->po->creds == NULL || g->basic)
        return moat_err (err, EACCES, "registry `%s`: authentication required (give --creds USER:PASS or $MOAT_REGISTRY_AUTH)", g->r.api);
      g->basic = true;
      return 0;
    }
  if (strncasecmp (ch, "Bearer", 6) != 0 || !challenge_param (ch, "realm", realm, sizeof realm))
    return moat_err (err, EACCES, "registry `%s`: access denied (no usable WWW-Authenticate challenge)", g->r.api);
  if (check_realm (g, realm, err) < 0)
    return -1;
  challenge_param (ch, "service", service, sizeof service);
  if (!challenge_param (ch, "scope", scope, sizeof scope))
    snprintf (scope, sizeof scope, "repository:%s:pull", g->r.repo);
  e1 = curl_easy_escape (g->c, service, 0);
  e2 = curl_easy_escape (g->c, scope, 0);
  snprintf (url, sizeof url, "%s%cservice=%s&scope=%s", realm, strchr (realm, '?') ? '&' : '?', e1 ? e1 : "", e2 ? e2 : "");
  curl_free (e1);
  curl_free (e2);
  m.buf = malloc (m.cap);
  if (m.buf == NULL)
    return moat_err (err, ENOMEM, "token");
  free (g->auth);
  g->auth = NULL;
  g->basic = g->po->creds != NULL;
  if (get_once (g, url, NULL, mem_write, &m, &st, err) < 0)
    goto fail;
  g->basic = was_basic;
  if (st != 200)
    {
      moat_err (err, EACCES, "registry token from `%s`: HTTP %ld%s", realm, st, st == 401 ? " (wrong --creds?)" : "");
      goto fail;
    }
  doc = json_loadb (m.buf, m.len, 0, NULL);
  tok = json_string_value (json_object_get (doc, "token"));
  if (tok == NULL)
    tok = json_string_value (json_object_get (doc, "access_token"));
  if (tok == NULL || *tok == '\0' || strlen (tok) > 16384 || strpbrk (tok, "\r\n"))
    {
      moat_err (err, EACCES, "registry token from `%s`: no token in the response", realm);
      goto fail;
    }
  if (asprintf (&g->auth, "Authorization: Bearer %s", tok) < 0)
    {
      g->auth = NULL;
      moat_err (err, ENOMEM, "token");
      goto fail;
    }
  free (m.buf);
  return 0;
fail:
  g->basic = was_basic;
  free (m.buf);
  return -1;
}

/* GET with one authentication round on 401. */
static int
get (struct reg *g, const char *url, const char *accept, curl_write_callback wr, void *sink, long *status,
     struct moat_error *err)
{
  if (get_once (g, url, accept, wr, sink, status, err) < 0)
    return -1;
  if (*status != 401)
    return 0;
  if (authenticate (g, err) < 0)
    return -1;
  return get_once (g, url, accept, wr, sink, status, err);
}

/* ---- manifests ---- */

/* Fetch manifest REFERENCE (a tag or a digest) into *BUF, verify it against
 * WANT (a digest, may be "") and the Docker-Content-Digest header, and
 * return its digest and media type in D. */
static int
fetch_manifest (struct reg *g, const char *reference, const char *want, char **buf, struct moat_desc *d,
                struct moat_error *err)
{
  char url[1200], got[MOAT_DIGEST_STR];
  struct mem_sink m = { .cap = MOAT_MAX_MANIFEST };
  cleanup_json json_t *doc = NULL;
  const char *mt;
  long st;

  snprintf (url, sizeof url, "%s://%s/v2/%s/manifests/%s", g->r.scheme, g->r.api, g->r.repo, reference);
  m.buf = malloc (m.cap);
  if (m.buf == NULL)
    return moat_err (err, ENOMEM, "manifest");
  *buf = m.buf;
  if (get (g, url, ACCEPT_MANIFESTS, mem_write, &m, &st, err) < 0)
    return -1;
  if (m.over)
    return moat_err (err, EFBIG, "manifest `%s`: larger than %u bytes", reference, MOAT_MAX_MANIFEST);
  if (st != 200)
    return moat_err (err, 0, "manifest `%s` of `%s/%s`: HTTP %ld", reference, g->r.api, g->r.repo, st);
  moat_sha256_buf (m.buf, m.len, got);
  /* spec.md: with a digest reference clients SHOULD verify the manifest;
     a Docker-Content-Digest header MUST be verified (CVE-2014-8179). */
  if (want[0] && strcmp (got, want) != 0)
    return moat_err (err, 0, "manifest `%s`: content digest is `%s`, refused", want, got);
  if (g->hdr_digest[0] && strcmp (g->hdr_digest, got) != 0)
    return moat_err (err, 0, "manifest `%s`: Docker-Content-Digest `%s` does not match the content (`%s`), refused",
                     reference, g->hdr_digest, got);
  doc = json_loadb (m.buf, m.len, 0, NULL);
  mt = json_string_value (json_object_get (doc, "mediaType"));
  if (g->hdr_type[0] && (strstr (g->hdr_type, "manifest") || strstr (g->hdr_type, "index")))
    mt = g->hdr_type;
  if (mt == NULL)
    return moat_err (err, 0, "manifest `%s`: no mediaType (header or document)", reference);
  snprintf (d->media_type, sizeof d->media_type, "%.127s", mt);
  memcpy (d->digest, got, sizeof got);
  d->size = (int64_t) m.len;
  return 0;
}

/* ---- blobs: curl writes into a pipe from a thread, moat_store_put reads
 * the other end, so a blob is hashed and size-capped as it streams in. ---- */

struct blob_job
{
  struct reg *g;
  char url[1200];
  struct fd_sink sink;
  long status;
  int ret;
  struct moat_error err;
};

static void *
blob_thread (void *p)
{
  struct blob_job *j = p;
  sigset_t pipe_set;

  /* A write to the pipe after the store stopped reading raises SIGPIPE in
     this thread (it is thread-directed): blocked, write fails with EPIPE
     and the pending signal dies with the thread. */
  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_set, NULL);
  j->ret = get (j->g, j->url, NULL, fd_write, &j->sink, &j->status, &j->err);
  close (j->sink.fd);
  return NULL;
}

/* INDEX is 0 for the config, 1..COUNT for the layers (progress only). */
static int
fetch_blob (struct reg *g, struct moat_store *s, const struct moat_desc *d, size_t index, size_t count,
            json_t *added, struct moat_error *err)
{
  struct blob_job j = { .g = g, .ret = -1 };
  int pfd[2], rfd, r;
  int64_t have;
  pthread_t th;
  bool new_blob = false;

  if (moat_store_has_blob (s, d->digest, &have) && have == d->size)
    return 0;
  if (pipe2 (pfd, O_CLOEXEC) < 0)
    return moat_err (err, errno, "pipe");
  rfd = pfd[0];
  j.sink.fd = pfd[1];
  j.sink.tty = isatty (2);
  j.sink.index = index;
  j.sink.count = count;
  j.sink.size = d->size;
  clock_gettime (CLOCK_MONOTONIC, &j.sink.t0);
  snprintf (j.url, sizeof j.url, "%s://%s/v2/%s/blobs/%s", g->r.scheme, g->r.api, g->r.repo, d->digest);
  if ((errno = pthread_create (&th, NULL, blob_thread, &j)) != 0)
    {
      close (pfd[0]);
      close (pfd[1]);
      return moat_err (err, errno, "thread");
    }
  r = moat_store_put (s, moat_fd_reader, &rfd, d->digest, d->size, NULL, &new_blob, err);
  /* Closing the read end makes a still-running download fail with EPIPE. */
  close (rfd);
  pthread_join (th, NULL);
  if (r == 0)
    progress (&j.sink, true);
  if (r == 0 && new_blob)
    json_object_set_new (added, d->digest, json_true ());
  if (r == 0)
    return 0;
  if (j.ret < 0)
    {
      *err = j.err;
      return moat_error_wrap (err, "blob `%s`", d->digest);
    }
  if (j.status != 200)
    return moat_err (err, 0, "blob `%s`: HTTP %ld", d->digest, j.status);
  return moat_error_wrap (err, "refused");
}

static void
drop_added (struct moat_store *s, json_t *added)
{
  const char *k;
  json_t *v;

  json_object_foreach (added, k, v)
    moat_store_remove_blob (s, k);
}

static int
pull_blobs (struct reg *g, struct moat_store *s, const struct moat_desc *md, const char *mbuf,
            const struct moat_limits *lim, json_t *added, struct moat_error *err)
{
  struct moat_manifest m = { 0 };
  uint64_t total = (uint64_t) md->size;
  bool new_blob;
  size_t i;
  int ret = -1;

  if (moat_parse_manifest (mbuf, (size_t) md->size, md->media_type, &m, err) < 0)
    return moat_error_wrap (err, "manifest `%s`", md->digest);
  total += (uint64_t) m.config.size;
  for (i = 0; i < m.n_layers; i++)
    total += (uint64_t) m.layers[i].size;
  /* Compressed bytes never exceed the uncompressed cap that unpack applies. */
  if (total > lim->max_image_bytes || m.config.size > MOAT_MAX_ARCHIVE_JSON)
    {
      moat_err (err, EFBIG, "image `%s`: %llu bytes to download, more than %llu (raise with --max-image-size)",
                md->digest, (unsigned long long) total, (unsigned long long) lim->max_image_bytes);
      goto out;
    }
  if (moat_store_put_buf (s, mbuf, (size_t) md->size, NULL, &new_blob, err) < 0)
    goto out;
  if (new_blob)
    json_object_set_new (added, md->digest, json_true ());
  if (fetch_blob (g, s, &m.config, 0, m.n_layers, added, err) < 0)
    {
      moat_error_wrap (err, "config");
      goto out;
    }
  for (i = 0; i < m.n_layers; i++)
    if (fetch_blob (g, s, &m.layers[i], i + 1, m.n_layers, added, err) < 0)
      {
        moat_error_wrap (err, "layer %zu", i);
        goto out;
      }
  ret = 0;
out:
  moat_manifest_free (&m);
  return ret;
}

static int
resolve (struct reg *g, char **mbuf, struct moat_desc *md, struct moat_error *err)
{
  cleanup_free char *ibuf = NULL;
  struct moat_desc top, pick;

  if (fetch_manifest (g, g->r.digest[0] ? g->r.digest : g->r.tag, g->r.digest, &ibuf, &top, err) < 0)
    return -1;
  if (strcmp (top.media_type, MT_OCI_INDEX) != 0 && strcmp (top.media_type, MT_DOCKER_LIST) != 0)
    {
      *mbuf = steal_ptr (&ibuf);
      *md = top;
      return 0;
    }
  if (moat_parse_index_pick (ibuf, (size_t) top.size, top.media_type, &pick, err) < 0)
    return moat_error_wrap (err, "index `%s`", top.digest);
  if (pick.size > MOAT_MAX_MANIFEST)
    return moat_err (err, EFBIG, "manifest `%s`: %lld bytes (at most %u)", pick.digest, (long long) pick.size, MOAT_MAX_MANIFEST);
  if (fetch_manifest (g, pick.digest, pick.digest, mbuf, md, err) < 0)
    return -1;
  if (md->size != pick.size)
    return moat_err (err, 0, "manifest `%s`: %lld bytes, the index says %lld", pick.digest, (long long) md->size, (long long) pick.size);
  /* The index's descriptor types the manifest (CVE-2021-41190). */
  snprintf (md->media_type, sizeof md->media_type, "%s", pick.media_type);
  return 0;
}

int
moat_image_pull (struct moat_store *s, const char *ref, const struct moat_pull_opts *po, const struct moat_limits *lim,
                 json_t *report, struct moat_error *err)
{
  struct reg g = { .po = po };
  cleanup_free char *mbuf = NULL;
  cleanup_json json_t *added = json_object ();
  struct moat_desc md;
  char name[800];
  int ret = -1;

  if (moat_pull_parse_ref (ref, po, &g.r, err) < 0)
    return -1;
  if (curl_global_init (CURL_GLOBAL_DEFAULT) != 0 || (g.c = curl_easy_init ()) == NULL)
    return moat_err (err, ENOMEM, "libcurl");
  if (resolve (&g, &mbuf, &md, err) < 0)
    goto out;
  if (pull_blobs (&g, s, &md, mbuf, lim, added, err) < 0)
    {
      drop_added (s, added);
      goto out;
    }
  snprintf (name, sizeof name, "%s/%s%s%s", g.r.host, g.r.repo, g.r.tag[0] ? ":" : "@",
            g.r.tag[0] ? g.r.tag : g.r.digest);
  ret = moat_image_commit (s, &md, name, lim, added, report, err);
out:
  free (g.auth);
  curl_easy_cleanup (g.c);
  curl_global_cleanup ();
  return ret;
}
