/*
 * conffile: a check the libconfig files of carehubd and carehub-notify share.
 *
 * libconfig reads an integer too large for 32 bits (written without an L) by
 * wrapping it round, so 4294967297 would silently become 1.  The number as
 * written on its line is read again and compared.  Nothing here logs.
 */
#ifndef CAREHUB_CONFFILE_H
#define CAREHUB_CONFFILE_H

#include <stdbool.h>

/*
 * False when the setting name on line of file (counted from 1) is written as
 * a number other than value (what libconfig made of it); true when it
 * matches, or when the line cannot be read or holds no value to compare.
 */
bool conffile_integer_as_written(const char *file, int line, const char *name, long long value);

#endif
