#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

int
keyfile_valid(const char *z85)
{
    uint8_t binary[32];

    if (z85 == NULL || strlen(z85) != KEYFILE_Z85)
        return 0;
    for (const char *c = z85; *c != '\0'; c++)
        if (strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   ".-:+=^!/*?&<>()[]{}@%$#",
                   *c) == NULL)
            return 0;
    return zmq_z85_decode(binary, z85) != NULL;
}

/* Strips spaces at both ends of line, in place. */
static char *
trim(char *line)
{
    char *end;

    while (*line == ' ' || *line == '\t')
        line++;
    end = line + strlen(line);
    while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    return line;
}

/*
 * Reads "public-key = K", "secret-key = K" or a bare K (taken as public)
 * lines from path.  Each found key goes to its buffer (which may be NULL
 * when not wanted).
 */
static int
read_keys(const char *path, char *public_key, char *secret_key, char *err, size_t err_size)
{
    FILE *f = fopen(path, "re");
    char text[256];
    int line = 0, r = 0;

    if (public_key != NULL)
        public_key[0] = '\0';
    if (secret_key != NULL)
        secret_key[0] = '\0';
    if (f == NULL) {
        r = -errno;
        snprintf(err, err_size, "%s: cannot read the key file: %s", path, strerror(-r));
        return r;
    }
    while (fgets(text, sizeof(text), f) != NULL) {
        char *p = trim(text), *value;
        char *slot;

        line++;
        if (*p == '\0' || *p == '#')
            continue;
        if (strncmp(p, "public-key", 10) == 0 || strncmp(p, "secret-key", 10) == 0) {
            slot = p[0] == 'p' ? public_key : secret_key;
            value = p + 10;
            while (*value == ' ' || *value == '\t')
                value++;
            if (*value != '=') {
                snprintf(err, err_size, "%s:%d: expected \"%.10s = KEY\"", path, line, p);
                r = -EINVAL;
                break;
            }
            value = trim(value + 1);
        } else {
            slot = public_key;
            value = p;
        }
        if (!keyfile_valid(value)) {
            snprintf(err, err_size, "%s:%d: not a key (40 characters of Z85)", path, line);
            r = -EINVAL;
            break;
        }
        if (slot != NULL)
            memcpy(slot, value, KEYFILE_Z85 + 1);
    }
    fclose(f);
    return r;
}

int
keyfile_read_pair(const char *path, char public_key[KEYFILE_Z85 + 1],
                  char secret_key[KEYFILE_Z85 + 1], char *err, size_t err_size)
{
    char derived[KEYFILE_Z85 + 1];
    int r = read_keys(path, public_key, secret_key, err, err_size);

    if (r < 0)
        return r;
    if (secret_key[0] == '\0') {
        snprintf(err, err_size, "%s: no secret-key line: this is not a key-pair file", path);
        return -EINVAL;
    }
    if (zmq_curve_public(derived, secret_key) != 0) {
        snprintf(err, err_size, "%s: the secret key cannot be used", path);
        return -EINVAL;
    }
    if (public_key[0] != '\0' && strcmp(derived, public_key) != 0) {
        snprintf(err, err_size, "%s: the public key does not belong to the secret key", path);
        return -EINVAL;
    }
    memcpy(public_key, derived, sizeof(derived));
    return 0;
}

int
keyfile_read_public(const char *text, char public_key[KEYFILE_Z85 + 1], char *err, size_t err_size)
{
    int r;

    if (keyfile_valid(text)) {
        memcpy(public_key, text, KEYFILE_Z85 + 1);
        return 0;
    }
    r = read_keys(text, public_key, NULL, err, err_size);
    if (r == 0 && public_key[0] == '\0') {
        snprintf(err, err_size, "%s: holds no public key", text);
        r = -EINVAL;
    }
    return r;
}

/* Creates path (never over a file) with mode and writes text to it. */
static int
write_new(const char *path, int mode, const char *text, char *err, size_t err_size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    size_t length = strlen(text);
    int r = 0;

    if (fd < 0) {
        r = -errno;
        snprintf(err, err_size, "cannot create %s: %s", path, strerror(-r));
        return r;
    }
    if (write(fd, text, length) != (ssize_t)length || fsync(fd) != 0) {
        r = -errno;
        snprintf(err, err_size, "cannot write %s: %s", path, strerror(-r));
        close(fd);
        unlink(path);
        return r;
    }
    close(fd);
    return 0;
}

int
keyfile_generate(const char *secret_path, const char *public_path, const char *name,
                 char public_key[KEYFILE_Z85 + 1], char *err, size_t err_size)
{
    char secret[KEYFILE_Z85 + 1];
    char text[512];
    int r;

    if (access(secret_path, F_OK) == 0 || access(public_path, F_OK) == 0) {
        snprintf(err, err_size, "%s exists already: keys are never overwritten",
                 access(secret_path, F_OK) == 0 ? secret_path : public_path);
        return -EEXIST;
    }
    if (zmq_curve_keypair(public_key, secret) != 0) {
        r = -zmq_errno();
        snprintf(err, err_size, "cannot make a key pair: %s", zmq_strerror(-r));
        return r;
    }
    snprintf(text, sizeof(text),
             "# carehub CURVE key pair \"%s\": keep this file secret\n"
             "public-key = %s\n"
             "secret-key = %s\n",
             name, public_key, secret);
    r = write_new(secret_path, 0600, text, err, err_size);
    explicit_bzero(text, sizeof(text));
    explicit_bzero(secret, sizeof(secret));
    if (r < 0)
        return r;
    snprintf(text, sizeof(text), "# carehub CURVE public key \"%s\"\npublic-key = %s\n", name,
             public_key);
    r = write_new(public_path, 0644, text, err, err_size);
    if (r < 0)
        unlink(secret_path);
    return r;
}
