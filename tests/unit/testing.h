/* Helpers the unit tests share. Include after <cmocka.h>. */
#ifndef LOBO_TESTING_H
#define LOBO_TESTING_H

#include "lobo.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void need_root(void)
{
	if (geteuid() != 0)
		skip();
}

/* As nobody, opening `uri` must fail with `rc` and one line containing `hint`. */
static inline void open_fails_unprivileged(const char *uri, int rc, const char *hint)
{
	need_root();
	pid_t pid = fork();
	if (pid == 0) {
		char err[LOBO_ERR_LEN];
		struct lobo_port *p;
		if (setresuid(65534, 65534, 65534))
			_exit(2);
		int got = lobo_port_open(&p, uri, NULL, err);
		_exit(got == rc && strstr(err, hint) && !strchr(err, '\n') ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Empty polls of every queue, enough for a port to read the kernel's drop
 * statistics, which enter the counters only through rx_poll (lobo.h). */
static inline void poll_for_kernel_stats(struct lobo_port *p)
{
	for (int i = 0; i < 8192; i++)
		for (uint16_t q = 0; q < lobo_port_info(p)->queues; q++)
			lobo_rx_poll(p, q, NULL, 0);
}

#endif
