// cni-timer: the one measuring point `make compare` puts in front of every CNI's plugins, so that a
// call of gingham (Node), of Flannel's chain (Go) and of the reference bridge (Go) is timed by the
// same code, the same way, from outside: wall time and the CPU (user + sys) of the plugin and of
// every process it waited for (flannel -> bridge -> host-local all count in flannel's line).
//
// e2e/compare/measure.ts installs it on a kind node as /opt/cni/bin/<plugin>, the real plugin
// moved beside it as /opt/cni/bin/<plugin>.timed, for the top-level plugins of the node's conflist
// only (a delegated child is inside its parent's rusage; timing it too would count it twice), and
// puts the real plugins back afterwards. Per call it runs `<its own path>.timed` with the same argv,
// environment and stdio (fork + execv: containerd sees the plugin's stdout, stderr and status as
// they are), waits for it with wait4 for its rusage, exits with its status (128 + signal when
// killed), and appends one line to /var/log/cni-timer.log:
//   plugin CNI_COMMAND CNI_CONTAINERID start_unix_ms wall_ms user_ms sys_ms exit_status
// as a single write() on an O_APPEND descriptor, so lines of concurrent calls never interleave.
// Static (gcc -O2 -static), so it runs on any node image; its own cost is a fork, an exec and a
// write, well under a millisecond, the same for every CNI.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_PATH "/var/log/cni-timer.log"
#define SUFFIX ".timed"
#define DELETED " (deleted)"
// The prefix of its messages, also how measure.ts tells the shim from a real plugin (grep).
#define MARK "cni-timer (e2e/compare/cni-timer.c)"

static double ms(struct timeval tv) { return tv.tv_sec * 1e3 + tv.tv_usec / 1e3; }

static double since_ms(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

// An empty or absent variable logs as "-", so every line has the same eight fields.
static const char *field(const char *name) {
  const char *v = getenv(name);
  return v && *v && !strpbrk(v, " \t\n") ? v : "-";
}

int main(int argc, char **argv) {
  (void)argc;
  char self[PATH_MAX], target[PATH_MAX + sizeof SUFFIX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    perror(MARK ": /proc/self/exe");
    return 127;
  }
  self[n] = '\0';
  // Replaced while running (the real plugin put back under us): the kernel appends " (deleted)".
  size_t len = (size_t)n, dl = strlen(DELETED);
  if (len > dl && strcmp(self + len - dl, DELETED) == 0) self[len - dl] = '\0';
  const char *name = strrchr(self, '/') ? strrchr(self, '/') + 1 : self;
  snprintf(target, sizeof target, "%s" SUFFIX, self);

  struct timespec t0;
  struct timeval start;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  gettimeofday(&start, NULL);

  pid_t pid = fork();
  if (pid < 0) {
    perror(MARK ": fork");
    return 127;
  }
  if (pid == 0) {
    execv(target, argv);
    fprintf(stderr, MARK ": exec %s: %s\n", target, strerror(errno));
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      perror(MARK ": wait4");
      return 127;
    }
  }
  double wall = since_ms(&t0);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 127;

  char line[1024 + NAME_MAX];
  int m = snprintf(line, sizeof line, "%s %s %s %lld %.3f %.3f %.3f %d\n", name, field("CNI_COMMAND"), field("CNI_CONTAINERID"),
                   (long long)start.tv_sec * 1000 + start.tv_usec / 1000, wall, ms(ru.ru_utime), ms(ru.ru_stime), code);
  if (m < 0) m = 0;
  if ((size_t)m >= sizeof line) line[(m = sizeof line - 1) - 1] = '\n'; // cut, still one line
  int fd = open(LOG_PATH, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  // The plugin's outcome is what containerd needs: a log that cannot be written loses a line only.
  if (fd < 0 || write(fd, line, (size_t)m) != m) perror(MARK ": " LOG_PATH);
  if (fd >= 0) close(fd);
  return code;
}
