/*
 * mail-send: sends messages with the mail module, for tests/e2e/test_mail.py.
 *
 * All --count messages go through one relay handle, so that a test can see
 * the connection being reused.  Each message gets its own Message-ID and
 * the current time as its Date.  Exit codes: 0 when every message was
 * accepted; 10 for -EAGAIN, 11 for -EPERM, 12 for -EIO, 13 for -EINVAL, 14 for -EBADMSG
 * (the first failure stops the run and is printed as "mail-send: <err>");
 * 1 for anything else, 2 for a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "mail.h"

/* An attachment is read whole into memory; tests use small files. */
#define MAIL_SEND_MAX_ATTACHMENT (16L * 1024 * 1024)
#define MAIL_SEND_MAX_COUNT 1000000L

enum {
    EXIT_USAGE = 2,
    EXIT_AGAIN = 10,
    EXIT_REFUSED = 11,
    EXIT_IO = 12,
    EXIT_INVALID = 13,
    EXIT_REJECTED = 14,
};

enum {
    OPTION_URL = 256,
    OPTION_STARTTLS,
    OPTION_SMTPS,
    OPTION_USER,
    OPTION_PASSWORD,
    OPTION_CA_FILE,
    OPTION_NO_VERIFY,
    OPTION_TIMEOUT_MS,
    OPTION_HELO,
    OPTION_FROM,
    OPTION_FROM_NAME,
    OPTION_TO,
    OPTION_TO_NAME,
    OPTION_SUBJECT,
    OPTION_TEXT,
    OPTION_HTML,
    OPTION_ATTACH,
    OPTION_MESSAGE_ID,
    OPTION_COUNT,
    OPTION_HELP,
};

static void
usage(FILE *out)
{
    fprintf(out, "usage: mail-send --url URL [--starttls|--smtps] [--user U --password P]\n"
                 "                 [--ca-file F] [--no-verify] [--timeout-ms N] [--helo NAME]\n"
                 "                 --from A [--from-name NAME] --to B [--to-name NAME]\n"
                 "                 --subject S --text T [--html H] [--attach NAME:TYPE:FILE]\n"
                 "                 [--message-id ID] [--count N]\n"
                 "\n"
                 "Sends N messages (default 1) through one relay connection.  Exit status:\n"
                 "0 all accepted, 10 try again later, 11 recipient refused, 12 relay or TLS\n"
                 "or authentication failure, 13 invalid message, 1 other, 2 usage.\n");
}

static int
exit_code(int r)
{
    switch (r) {
    case -EAGAIN:
        return EXIT_AGAIN;
    case -EPERM:
        return EXIT_REFUSED;
    case -EIO:
        return EXIT_IO;
    case -EINVAL:
        return EXIT_INVALID;
    case -EBADMSG:
        return EXIT_REJECTED;
    default:
        return EXIT_FAILURE;
    }
}

/* Reads path whole into *out (the caller's to free()). */
static int
read_file(const char *path, char **out, size_t *len)
{
    FILE *file = fopen(path, "rbe");
    char *data = NULL;
    size_t used = 0;
    size_t cap = 0;

    if (file == NULL)
        return -errno;
    for (;;) {
        size_t n;

        if (used == cap) {
            char *grown;

            if (cap >= (size_t)MAIL_SEND_MAX_ATTACHMENT) {
                free(data);
                fclose(file);
                return -EFBIG;
            }
            cap = cap ? cap * 2 : 4096;
            grown = realloc(data, cap);
            if (grown == NULL) {
                free(data);
                fclose(file);
                return -ENOMEM;
            }
            data = grown;
        }
        n = fread(data + used, 1, cap - used, file);
        used += n;
        if (n == 0)
            break;
    }
    if (ferror(file)) {
        free(data);
        fclose(file);
        return -EIO;
    }
    fclose(file);
    *out = data;
    *len = used;
    return 0;
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    long value;

    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
        return false;
    *out = value;
    return true;
}

int
main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"url", required_argument, NULL, OPTION_URL},
        {"starttls", no_argument, NULL, OPTION_STARTTLS},
        {"smtps", no_argument, NULL, OPTION_SMTPS},
        {"user", required_argument, NULL, OPTION_USER},
        {"password", required_argument, NULL, OPTION_PASSWORD},
        {"ca-file", required_argument, NULL, OPTION_CA_FILE},
        {"no-verify", no_argument, NULL, OPTION_NO_VERIFY},
        {"timeout-ms", required_argument, NULL, OPTION_TIMEOUT_MS},
        {"helo", required_argument, NULL, OPTION_HELO},
        {"from", required_argument, NULL, OPTION_FROM},
        {"from-name", required_argument, NULL, OPTION_FROM_NAME},
        {"to", required_argument, NULL, OPTION_TO},
        {"to-name", required_argument, NULL, OPTION_TO_NAME},
        {"subject", required_argument, NULL, OPTION_SUBJECT},
        {"text", required_argument, NULL, OPTION_TEXT},
        {"html", required_argument, NULL, OPTION_HTML},
        {"attach", required_argument, NULL, OPTION_ATTACH},
        {"message-id", required_argument, NULL, OPTION_MESSAGE_ID},
        {"count", required_argument, NULL, OPTION_COUNT},
        {"help", no_argument, NULL, OPTION_HELP},
        {NULL, 0, NULL, 0},
    };
    struct mail_relay_options relay_options = {.verify_peer = true, .timeout_ms = 30000};
    struct mail_message message = {0};
    struct mail_relay *relay = NULL;
    const char *attach = NULL;
    const char *message_id = NULL;
    char *attachment_spec = NULL;
    char *attachment = NULL;
    char generated_id[128];
    char err[1024] = "";
    long count = 1;
    long sent = 0;
    int status = EXIT_FAILURE;
    int option;
    int r;

    while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (option) {
        case OPTION_URL:
            relay_options.url = optarg;
            break;
        case OPTION_STARTTLS:
            relay_options.tls = MAIL_TLS_STARTTLS;
            break;
        case OPTION_SMTPS:
            relay_options.tls = MAIL_TLS_IMPLICIT;
            break;
        case OPTION_USER:
            relay_options.username = optarg;
            break;
        case OPTION_PASSWORD:
            relay_options.password = optarg;
            break;
        case OPTION_CA_FILE:
            relay_options.ca_file = optarg;
            break;
        case OPTION_NO_VERIFY:
            relay_options.verify_peer = false;
            break;
        case OPTION_TIMEOUT_MS:
            if (!parse_long(optarg, 1, LONG_MAX / 2, &relay_options.timeout_ms)) {
                fprintf(stderr, "mail-send: --timeout-ms: not a positive number: %s\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPTION_HELO:
            relay_options.helo_name = optarg;
            break;
        case OPTION_FROM:
            message.from = optarg;
            break;
        case OPTION_FROM_NAME:
            message.from_name = optarg;
            break;
        case OPTION_TO:
            message.to = optarg;
            break;
        case OPTION_TO_NAME:
            message.to_name = optarg;
            break;
        case OPTION_SUBJECT:
            message.subject = optarg;
            break;
        case OPTION_TEXT:
            message.text = optarg;
            break;
        case OPTION_HTML:
            message.html = optarg;
            break;
        case OPTION_ATTACH:
            attach = optarg;
            break;
        case OPTION_MESSAGE_ID:
            message_id = optarg;
            break;
        case OPTION_COUNT:
            if (!parse_long(optarg, 1, MAIL_SEND_MAX_COUNT, &count)) {
                fprintf(stderr, "mail-send: --count: not a number from 1 to %ld: %s\n",
                        MAIL_SEND_MAX_COUNT, optarg);
                return EXIT_USAGE;
            }
            break;
        case OPTION_HELP:
            usage(stdout);
            return EXIT_SUCCESS;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc || relay_options.url == NULL || message.from == NULL || message.to == NULL ||
        message.subject == NULL || message.text == NULL) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (message_id != NULL && count > 1) {
        fprintf(stderr, "mail-send: --message-id goes with --count 1 only\n");
        return EXIT_USAGE;
    }

    if (attach != NULL) {
        char *type;
        char *path;
        size_t len = 0;

        attachment_spec = strdup(attach);
        if (attachment_spec == NULL) {
            fprintf(stderr, "mail-send: out of memory\n");
            goto done;
        }
        type = strchr(attachment_spec, ':');
        path = type != NULL ? strchr(type + 1, ':') : NULL;
        if (path == NULL) {
            fprintf(stderr, "mail-send: --attach: expected NAME:TYPE:FILE, got %s\n", attach);
            status = EXIT_USAGE;
            goto done;
        }
        *type++ = '\0';
        *path++ = '\0';
        r = read_file(path, &attachment, &len);
        if (r < 0) {
            fprintf(stderr, "mail-send: %s: %s\n", path, strerror(-r));
            goto done;
        }
        message.attachment_name = attachment_spec;
        message.attachment_type = type;
        message.attachment = attachment;
        message.attachment_len = len;
    }

    r = mail_relay_open(&relay, &relay_options, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "mail-send: %s\n", err);
        status = exit_code(r);
        goto done;
    }
    for (sent = 0; sent < count; sent++) {
        message.date_ms = now_ms();
        if (message_id != NULL) {
            message.message_id = message_id;
        } else {
            snprintf(generated_id, sizeof(generated_id), "<mail-send.%ld.%lld.%ld@carehub.test>",
                     (long)getpid(), (long long)message.date_ms, sent + 1);
            message.message_id = generated_id;
        }
        r = mail_send(relay, &message, err, sizeof(err));
        if (r < 0) {
            fprintf(stderr, "mail-send: %s\n", err);
            if (sent > 0)
                fprintf(stderr, "mail-send: %ld of %ld messages were accepted before\n", sent,
                        count);
            status = exit_code(r);
            goto done;
        }
    }
    printf("mail-send: %ld message%s accepted\n", sent, sent == 1 ? "" : "s");
    status = EXIT_SUCCESS;
done:
    mail_relay_close(relay);
    /* The mail module leaves libcurl's global state to the program. */
    curl_global_cleanup();
    free(attachment);
    free(attachment_spec);
    return status;
}
