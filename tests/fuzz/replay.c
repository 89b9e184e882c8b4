/*
 * replay: a main() for a fuzz target built without libFuzzer. Runs
 * LLVMFuzzerTestOneInput on every file named on the command line and every
 * file in every folder named (in name order), so the crashes the fuzzers
 * found (fixtures/fuzz/<target>/) stay fixed on every build. A missing
 * folder holds no inputs. A broken promise aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (!f) {
        fprintf(stderr, "replay: cannot open '%s': %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (cap - len < 65536) {
            uint8_t *nbuf = realloc(buf, cap + 65536 + 1);

            if (!nbuf) {
                fclose(f);
                free(buf);
                return -1;
            }
            buf = nbuf;
            cap += 65536;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
    int i, k, n, files = 0, rc = 0;

    LLVMFuzzerInitialize(&argc, &argv);
    for (i = 1; i < argc; i++) {
        struct dirent **list = NULL;
        struct stat sb;

        if (stat(argv[i], &sb) != 0) {
            if (errno == ENOENT)
                continue; /* no fixtures for this target (yet) */
            fprintf(stderr, "replay: '%s': %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (!S_ISDIR(sb.st_mode)) {
            rc |= replay_file(argv[i]);
            files++;
            continue;
        }
        n = scandir(argv[i], &list, NULL, by_name);
        for (k = 0; k < n; k++) {
            char path[4096];

            snprintf(path, sizeof(path), "%s/%s", argv[i], list[k]->d_name);
            if (list[k]->d_name[0] != '.' && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
                rc |= replay_file(path);
                files++;
            }
            free(list[k]);
        }
        free(list);
    }
    printf("%d inputs replayed\n", files);
    return rc ? 1 : 0;
}
