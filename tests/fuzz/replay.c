/* Runs a fuzz target over files, for make test: every seed and every input
 * that once crashed (tests/fuzz/<target>/) goes through the target again in
 * an ordinary build, with the sanitizers of that build. Arguments: files or
 * folders of inputs. */
#include "fuzz.h"

#include <dirent.h>
#include <sys/stat.h>

static uint8_t data[1 << 20];

static void replay_file(const char *path, int *inputs)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		exit(1);
	}
	size_t n = fread(data, 1, sizeof data, f);
	fclose(f);
	uint8_t *copy = malloc(n ? n : 1); /* exactly n bytes: ASan sees a read past the input */
	memcpy(copy, data, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	(*inputs)++;
}

static void replay_dir(const char *path, int *inputs)
{
	DIR *dir = opendir(path);
	for (struct dirent *e; dir && (e = readdir(dir));) {
		char file[4096];
		snprintf(file, sizeof file, "%s/%s", path, e->d_name);
		if (e->d_name[0] != '.')
			replay_file(file, inputs);
	}
	if (dir)
		closedir(dir);
}

int main(int argc, char **argv)
{
	int inputs = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (!stat(argv[i], &st) && S_ISDIR(st.st_mode))
			replay_dir(argv[i], &inputs);
		else
			replay_file(argv[i], &inputs);
	}
	printf("%d inputs replayed\n", inputs);
	return !inputs;
}
