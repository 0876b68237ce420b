#include "conffile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
conffile_integer_as_written(const char *file, int line, const char *name, long long value)
{
    char text[1024];
    FILE *f = fopen(file, "re");
    const char *p;
    bool matches = true;

    if (f == NULL)
        return true; /* nothing to compare with */
    for (int n = 1; fgets(text, sizeof(text), f) != NULL; n++) {
        if (n != line)
            continue;
        for (p = strstr(text, name); p != NULL; p = strstr(p + 1, name)) {
            char before = p == text ? ' ' : p[-1];
            if (before == '_' || (before >= 'a' && before <= 'z') ||
                (before >= 'A' && before <= 'Z') || (before >= '0' && before <= '9'))
                continue;
            p += strlen(name);
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p != '=' && *p != ':')
                continue;
            p++;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '\n' || *p == '\r' || *p == '\0')
                break; /* the value is on a later line: nothing to compare here */
            errno = 0;
            char *end;
            /* Decimal, as libconfig reads it, unless it starts 0x. */
            bool hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
            bool negative_hex = p[0] == '-' && p[1] == '0' && (p[2] == 'x' || p[2] == 'X');
            long long written = strtoll(p, &end, hex || negative_hex ? 16 : 10);
            matches = end != p && errno == 0 && written == value;
            break;
        }
        break;
    }
    fclose(f);
    return matches;
}
