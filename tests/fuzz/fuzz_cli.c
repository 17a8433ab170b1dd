/* lobo's command-line parser (cli/args.c): the input is argv, its words
 * separated by NUL bytes, the first the command. It must never crash, never
 * print, and either succeed or explain itself in one line. */
#include "fuzz.h"

#include "args.h"

#define MAX_ARGS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct args a;
	char text[4096], *argv[MAX_ARGS + 1];
	int argc = 0;
	if (size >= sizeof text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	for (size_t at = 0; at <= size && argc < MAX_ARGS; at += strlen(text + at) + 1)
		argv[argc++] = text + at;
	argv[argc] = NULL;
	int rc = cli_parse(argc, argv, &a);
	check_one_line(rc, a.err);
	if (!rc && !a.help && (!a.cmd || a.npos > 2 || strlen(a.filter) >= sizeof a.filter_buf))
		abort();
	return 0;
}
