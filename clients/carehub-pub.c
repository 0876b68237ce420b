/*
 * carehub-pub: publishes CloudEvents from files or standard input to carehubd.
 *
 * The input is a stream of JSON values: each object is one event, each
 * top-level array contributes its elements.  Events are sent as they are
 * read, in publish requests of up to --batch events, with at most --window
 * events unacknowledged, so a file of any size is published with memory
 * bounded by the window.  Every outcome is tied back to the line the event
 * started on.  When the daemon restarts, every unacknowledged request is
 * sent again: the daemon recognises events it already stored.
 *
 * The daemon's limits (limits.max_batch_events, limits.max_message_bytes) are
 * not known in advance.  A request refused as a whole for its size is split
 * into halves, down to single events, which alone are reported as rejected;
 * the half size is then the most later requests hold.  A request far over the
 * size limit gets no reply at all: the daemon drops the connection.  After a
 * drop the largest request that was on the wire is a suspect; suspects are
 * held back and sent alone, once nothing else is waiting for a reply, and a
 * suspect that drops the connection more than PUB_MAX_DROPS times when sent
 * alone is split in the same way (a single event is rejected).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zmq.h>

#include "client.h"
#include "wire.h"

#define PUB_DEFAULT_BATCH 500
#define PUB_DEFAULT_WINDOW 5000
#define PUB_DEFAULT_TIMEOUT_S 30.0
#define PUB_MAX_BATCH 1000000
#define PUB_MAX_WINDOW 10000000

/* The daemon's default limits.max_message_bytes: requests are cut before they
 * reach it, so that many small events never make one request too large.  An
 * event larger than this on its own still goes, alone, and the daemon says
 * whether its own limit allows it.  A daemon with a smaller limit lowers it. */
#define PUB_MAX_REQUEST_BYTES (1024 * 1024)

/* A suspect sent alone that loses the connection more than this many times
 * is taken to be too large for the daemon to read. */
#define PUB_MAX_DROPS 2
/* A lost connection counts against the suspect sent alone only when it comes
 * this soon after the sending: the daemon drops an oversized message as soon
 * as it reads its size, and a restart at another moment is no evidence. */
#define PUB_DROP_GRACE_MS 2000

/* Input is read in chunks of at least this size; a value that is still not
 * valid JSON once this much of it is buffered is reported as bad. */
#define PUB_READ_CHUNK (256 * 1024)
#define PUB_MAX_VALUE_BYTES (16 * 1024 * 1024)

/* A request without a reply is sent again after this long, doubling. */
#define PUB_RETRY_FIRST_MS 2000
#define PUB_RETRY_MAX_MS 16000
/* When ZeroMQ could not take a request at all, try again soon. */
#define PUB_SEND_AGAIN_MS 100

#define STDIN_NAME "<stdin>"

/* Where an event came from, for messages about it. */
struct origin {
    unsigned file;
    unsigned long line;
};

/* One event of a request: where it came from and where its text is in the body. */
struct request_event {
    struct origin origin;
    size_t offset;
    size_t len;
};

/* One publish request: its body and its events. */
struct request {
    uint64_t id;
    char *body;
    size_t len;
    size_t cap;
    struct request_event *events;
    size_t count;
    size_t events_cap;
    int64_t retry_at_ms;
    int retry_interval_ms;
    uint64_t sent_on; /* the connection it was last sent on; 0 for none */
    int64_t sent_at_ms;
    bool suspect;   /* may make the daemon drop the connection: sent alone */
    unsigned drops; /* connections lost right after it was sent alone */
};

/* The unacknowledged requests in the order of their ids (ids only grow), so
 * that a reply's id is found by binary search.  Answered requests leave a
 * hole (request NULL) that compaction removes. */
struct outstanding_entry {
    uint64_t id;
    struct request *request;
};

struct outstanding {
    struct outstanding_entry *entries;
    size_t head; /* entries before head are all holes */
    size_t tail;
    size_t cap;
    size_t live;
};

enum read_result {
    READ_VALUE,      /* *value is the next event's text */
    READ_BAD,        /* input that is not an event; code and message say why */
    READ_NEED_INPUT, /* more bytes must be read first */
    READ_END,        /* end of this input */
};

/* A JSON value stream read incrementally from one file descriptor. */
struct reader {
    const char *name;
    int fd;
    bool is_regular; /* reads never block, so no need to poll */
    bool eof;
    int read_errno;
    char *data;
    size_t start; /* first byte not consumed */
    size_t end;   /* end of the bytes read */
    size_t cap;
    unsigned long line; /* line number of data[start] */
    bool at_file_start;
    bool in_array;
    unsigned long array_line;
    bool skipping_line; /* after bad input, discard up to the next newline */
    size_t retry_size;  /* bytes from start needed before parsing again */
};

/* A value or bad input found by reader_next(). */
struct read_item {
    const char *text;
    size_t len;
    unsigned long line;
    const char *code;
    char message[160];
};

struct options {
    const char *endpoint;
    const char *key_file;   /* --key-file, else $CAREHUB_KEY_FILE */
    const char *server_key; /* --server-key, else $CAREHUB_SERVER_KEY */
    size_t batch;
    size_t window;
    int64_t timeout_ms; /* 0: wait for ever */
    bool quiet;
};

struct pub {
    struct options options;
    struct client *client;
    char **files; /* NULL-terminated; "-" is standard input */
    unsigned file_count;
    unsigned file_index;
    struct reader reader;
    bool reader_open;
    bool inputs_done;
    bool waiting_for_input;
    struct outstanding outstanding;
    struct request *pending; /* being filled, not sent yet */
    uint64_t next_id;
    size_t unacked_events;
    int64_t next_retry_ms;
    int64_t last_progress_ms;
    bool connected;
    uint64_t connection;     /* connections made so far; requests name theirs */
    size_t batch_limit;      /* most events per request: --batch, or what the daemon took */
    size_t byte_limit;       /* most bytes per request, lowered the same way */
    size_t largest_answered; /* the largest request answered on this connection */
    size_t suspects;         /* outstanding requests that are suspects */
    struct request *probe;   /* the suspect sent alone, or NULL */
    bool failed;             /* exit 2 */
    unsigned long long stored;
    unsigned long long duplicate;
    unsigned long long rejected;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: carehub-pub [-e ENDPOINT] [--key-file FILE] [--server-key KEY]\n"
            "                   [--batch N] [--window N] [--timeout SECONDS] [--quiet]\n"
            "                   [FILE...]\n"
            "\n"
            "Publishes CloudEvents to carehubd.  Each FILE (standard input when there is\n"
            "none, or for -) holds a stream of JSON values: each object is one event, each\n"
            "array contributes its elements.  Prints \"stored N, duplicate N, rejected N\"\n"
            "at the end, and each rejected event on standard error as\n"
            "\"FILE:LINE: CODE: MESSAGE\".\n"
            "\n"
            "  -e, --endpoint ENDPOINT  the daemon's API socket (default: $%s)\n"
            "      --key-file FILE      this client's CURVE key pair, made with carehubctl\n"
            "                           keygen (default: $%s)\n"
            "      --server-key KEY     the daemon's public key: 40 characters of Z85 or a\n"
            "                           file holding it (default: $%s); with --key-file,\n"
            "                           connections are encrypted and authenticated\n"
            "      --batch N            events per publish request (default %d)\n"
            "      --window N           most events waiting for acknowledgement (default %d)\n"
            "      --timeout SECONDS    give up after this long without any reply while\n"
            "                           events wait (default %g; 0 waits for ever)\n"
            "  -q, --quiet              do not print the summary\n"
            "  -h, --help               print this help\n"
            "\n"
            "Requests without a reply are sent again after 2 s (doubling up to 16 s) and\n"
            "all of them when the connection comes back after the daemon restarts.\n"
            "\n"
            "A request the daemon refuses as too large (batch_too_large or\n"
            "message_too_large) is split in two and both halves are sent, down to single\n"
            "events; only a single event still refused is reported as rejected.  Later\n"
            "requests are then kept to the size that was split off.  After the connection\n"
            "drops, the largest request that was on the wire is held back and sent alone\n"
            "once the others are answered; if the connection drops right after it three\n"
            "times, it is too large for the daemon to read and is split the same way, and\n"
            "a single event is rejected as message_too_large.\n"
            "\n"
            "Exit status: 0 every event was stored or a duplicate, 1 some input was\n"
            "rejected, 2 usage, input or connection error, or timeout.\n",
            CLIENT_ENDPOINT_ENV, CLIENT_KEY_FILE_ENV, CLIENT_SERVER_KEY_ENV, PUB_DEFAULT_BATCH,
            PUB_DEFAULT_WINDOW, PUB_DEFAULT_TIMEOUT_S);
}

/* ---- reporting ---- */

static const char *
file_display_name(const struct pub *pub, unsigned file)
{
    const char *name = pub->files[file];

    return strcmp(name, "-") == 0 ? STDIN_NAME : name;
}

/* Writes text with control characters replaced, so one report stays one line. */
static void
put_sanitized(FILE *out, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
}

static void
report_rejection(struct pub *pub, const struct origin *origin, const char *code,
                 const char *message)
{
    pub->rejected++;
    fprintf(stderr, "%s:%lu: ", file_display_name(pub, origin->file), origin->line);
    put_sanitized(stderr, code != NULL ? code : "rejected");
    fputs(": ", stderr);
    put_sanitized(stderr, message != NULL ? message : "no reason given");
    fputc('\n', stderr);
}

/* ---- input ---- */

static void
reader_init(struct reader *reader, const char *name, int fd)
{
    struct stat st;

    memset(reader, 0, sizeof(*reader));
    reader->name = name;
    reader->fd = fd;
    reader->is_regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    reader->line = 1;
    reader->at_file_start = true;
}

static void
reader_release(struct reader *reader)
{
    free(reader->data);
    reader->data = NULL;
    if (reader->fd > STDERR_FILENO)
        close(reader->fd);
    reader->fd = -1;
}

/* Consumes n bytes, counting the lines they end. */
static void
reader_advance(struct reader *reader, size_t n)
{
    const char *p = reader->data + reader->start;
    const char *stop = p + n;

    while ((p = memchr(p, '\n', (size_t)(stop - p))) != NULL) {
        reader->line++;
        p++;
    }
    reader->start += n;
}

/* True when a read would not block. */
static bool
reader_ready(const struct reader *reader)
{
    struct pollfd item = {.fd = reader->fd, .events = POLLIN};

    return reader->is_regular || poll(&item, 1, 0) > 0;
}

/* Reads once into the buffer, compacting or growing it first.  Returns 0 or -ENOMEM. */
static int
reader_fill(struct reader *reader)
{
    size_t used = reader->end - reader->start;
    size_t want = used + (used > PUB_READ_CHUNK ? used : PUB_READ_CHUNK);
    ssize_t n;

    if (reader->start > 0) {
        memmove(reader->data, reader->data + reader->start, used);
        reader->start = 0;
        reader->end = used;
    }
    if (reader->cap < want) {
        char *grown = realloc(reader->data, want);

        if (grown == NULL)
            return -ENOMEM;
        reader->data = grown;
        reader->cap = want;
    }
    do {
        n = read(reader->fd, reader->data + reader->end, reader->cap - reader->end);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        reader->read_errno = errno;
        reader->eof = true;
    } else if (n == 0) {
        reader->eof = true;
    } else {
        reader->end += (size_t)n;
    }
    return 0;
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Describes where cJSON stopped, as a line and column of the input. */
static void
describe_parse_error(const struct reader *reader, const char *error_at, struct read_item *item)
{
    const char *p = reader->data + reader->start;
    unsigned long line = reader->line;
    unsigned long column = 1;

    if (error_at == NULL || error_at < p || error_at > reader->data + reader->end)
        error_at = p;
    for (; p < error_at; p++) {
        if (*p == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
    }
    item->code = WIRE_E_BAD_JSON;
    snprintf(item->message, sizeof(item->message), "not valid JSON (line %lu, column %lu)", line,
             column);
}

static bool
is_delimiter(char c)
{
    return is_space(c) || c == ',' || c == ':' || c == '[' || c == ']' || c == '{' || c == '}' ||
           c == '"';
}

/*
 * Whether the value starting at text ends within size bytes, judged by its
 * brackets and strings alone.  When it does, a parse failure is the input's
 * fault; when it does not, more input may complete it.  (cJSON cannot say
 * which: it reports an unterminated string where the string starts.)
 */
static bool
value_ends_within(const char *text, size_t size)
{
    size_t depth = 0;
    bool in_string = false;

    if (text[0] != '{' && text[0] != '[' && text[0] != '"') {
        for (size_t i = 0; i < size; i++)
            if (is_delimiter(text[i]))
                return true;
        return false;
    }
    for (size_t i = 0; i < size; i++) {
        char c = text[i];

        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = false;
                if (depth == 0)
                    return true;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && depth > 0 && --depth == 0) {
            return true;
        }
    }
    return false;
}

/* Parses the value at reader->start (whitespace already skipped). */
static enum read_result
reader_parse_value(struct reader *reader, struct read_item *item)
{
    size_t size = reader->end - reader->start;
    const char *text = reader->data + reader->start;
    const char *parse_end = NULL;
    cJSON *value;

    if (!reader->eof && size < reader->retry_size)
        return READ_NEED_INPUT;
    value = cJSON_ParseWithLengthOpts(text, size, &parse_end, false);
    if (value == NULL) {
        if (!reader->eof && size < PUB_MAX_VALUE_BYTES && !value_ends_within(text, size)) {
            /* Cut short by the end of the buffer: parse again once twice as
             * much is there, so that a long value costs linear time. */
            reader->retry_size =
                size * 2 < size + PUB_READ_CHUNK ? size + PUB_READ_CHUNK : size * 2;
            return READ_NEED_INPUT;
        }
        item->line = reader->line;
        describe_parse_error(reader, parse_end, item);
        reader->retry_size = 0;
        reader->skipping_line = true;
        return READ_BAD;
    }
    cJSON_Delete(value);
    if (parse_end == reader->data + reader->end && !reader->eof) {
        /* A number may go on in the bytes not read yet. */
        reader->retry_size = size + 1;
        return READ_NEED_INPUT;
    }
    reader->retry_size = 0;
    item->text = text;
    item->len = (size_t)(parse_end - text);
    item->line = reader->line;
    reader_advance(reader, item->len);
    if (!wire_utf8_valid(item->text, item->len)) {
        item->code = WIRE_E_BAD_UTF8;
        snprintf(item->message, sizeof(item->message), "the event is not valid UTF-8");
        return READ_BAD;
    }
    return READ_VALUE;
}

/*
 * Finds the next event or bad input.  item->text points into the reader's
 * buffer and stays valid until the next call.
 */
static enum read_result
reader_next(struct reader *reader, struct read_item *item)
{
    memset(item, 0, sizeof(*item));
    for (;;) {
        if (reader->skipping_line) {
            const char *p = reader->data + reader->start;
            const char *newline = memchr(p, '\n', reader->end - reader->start);

            if (newline == NULL) {
                reader->start = reader->end;
                if (!reader->eof)
                    return READ_NEED_INPUT;
            } else {
                reader_advance(reader, (size_t)(newline + 1 - p));
            }
            reader->skipping_line = false;
        }
        if (reader->at_file_start) {
            if (reader->end - reader->start < 3 && !reader->eof)
                return READ_NEED_INPUT;
            if (reader->end - reader->start >= 3 &&
                memcmp(reader->data + reader->start, "\xEF\xBB\xBF", 3) == 0)
                reader->start += 3;
            reader->at_file_start = false;
        }
        while (reader->start < reader->end &&
               (is_space(reader->data[reader->start]) ||
                (reader->in_array && reader->data[reader->start] == ',')))
            reader_advance(reader, 1);
        if (reader->start == reader->end) {
            if (!reader->eof)
                return READ_NEED_INPUT;
            if (reader->in_array) {
                reader->in_array = false;
                item->line = reader->array_line;
                item->code = WIRE_E_BAD_JSON;
                snprintf(item->message, sizeof(item->message),
                         "the array that starts here is not closed");
                return READ_BAD;
            }
            return READ_END;
        }
        if (!reader->in_array && reader->data[reader->start] == '[') {
            reader->in_array = true;
            reader->array_line = reader->line;
            reader_advance(reader, 1);
            continue;
        }
        if (reader->in_array && reader->data[reader->start] == ']') {
            reader->in_array = false;
            reader_advance(reader, 1);
            continue;
        }
        return reader_parse_value(reader, item);
    }
}

/* Opens the next input, or marks the inputs done.  Returns 0 or a negative errno. */
static int
open_next_input(struct pub *pub)
{
    const char *name;
    int fd;

    if (pub->file_index >= pub->file_count) {
        pub->inputs_done = true;
        return 0;
    }
    name = pub->files[pub->file_index];
    if (strcmp(name, "-") == 0) {
        fd = STDIN_FILENO;
    } else {
        fd = open(name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "carehub-pub: %s: %s\n", name, strerror(errno));
            return -errno;
        }
    }
    reader_init(&pub->reader, name, fd);
    pub->reader_open = true;
    return 0;
}

static void
close_input(struct pub *pub)
{
    if (pub->reader.read_errno != 0) {
        fprintf(stderr, "carehub-pub: %s: %s\n", file_display_name(pub, pub->file_index),
                strerror(pub->reader.read_errno));
        pub->failed = true;
    }
    reader_release(&pub->reader);
    pub->reader_open = false;
    pub->file_index++;
}

/* ---- requests ---- */

static void
request_free(struct request *request)
{
    if (request == NULL)
        return;
    free(request->body);
    free(request->events);
    free(request);
}

static int
request_append(struct request *request, const char *text, size_t len)
{
    if (request->cap - request->len < len) {
        size_t cap = request->cap * 2 > request->len + len ? request->cap * 2 : request->len + len;
        char *grown = realloc(request->body, cap);

        if (grown == NULL)
            return -ENOMEM;
        request->body = grown;
        request->cap = cap;
    }
    memcpy(request->body + request->len, text, len);
    request->len += len;
    return 0;
}

static struct request *
request_new(uint64_t id)
{
    struct request *request = calloc(1, sizeof(*request));
    char prefix[64];
    int n;

    if (request == NULL)
        return NULL;
    request->id = id;
    request->retry_interval_ms = PUB_RETRY_FIRST_MS;
    n = snprintf(prefix, sizeof(prefix), "{\"op\":\"publish\",\"id\":%" PRIu64 ",\"events\":[", id);
    if (request_append(request, prefix, (size_t)n) < 0) {
        request_free(request);
        return NULL;
    }
    return request;
}

/* Appends one event's text to the body.  Returns 0 or -ENOMEM. */
static int
request_add_event(struct request *request, const char *text, size_t len,
                  const struct origin *origin)
{
    struct request_event *event;

    if (request->count == request->events_cap) {
        size_t cap = request->events_cap ? request->events_cap * 2 : 64;
        struct request_event *grown = realloc(request->events, cap * sizeof(*grown));

        if (grown == NULL)
            return -ENOMEM;
        request->events = grown;
        request->events_cap = cap;
    }
    if (request->count > 0 && request_append(request, ",", 1) < 0)
        return -ENOMEM;
    event = &request->events[request->count];
    event->origin = *origin;
    event->offset = request->len;
    event->len = len;
    if (request_append(request, text, len) < 0)
        return -ENOMEM;
    request->count++;
    return 0;
}

/* Ends the body; no event can be added afterwards.  Returns 0 or -ENOMEM. */
static int
request_close(struct request *request)
{
    return request_append(request, "]}", 2);
}

/* ---- the outstanding requests ---- */

static int
outstanding_add(struct outstanding *set, struct request *request)
{
    if (set->tail == set->cap) {
        size_t kept = 0;

        /* Squeeze out the holes; grow only when that frees too little. */
        for (size_t i = set->head; i < set->tail; i++)
            if (set->entries[i].request != NULL)
                set->entries[kept++] = set->entries[i];
        set->head = 0;
        set->tail = kept;
        if (set->tail * 2 > set->cap || set->cap == 0) {
            size_t cap = set->cap ? set->cap * 2 : 64;
            struct outstanding_entry *grown = realloc(set->entries, cap * sizeof(*grown));

            if (grown == NULL)
                return -ENOMEM;
            set->entries = grown;
            set->cap = cap;
        }
    }
    set->entries[set->tail].id = request->id;
    set->entries[set->tail].request = request;
    set->tail++;
    set->live++;
    return 0;
}

/* The position of the entry for id, or set->tail when there is none. */
static size_t
outstanding_position(const struct outstanding *set, uint64_t id)
{
    size_t low = set->head;
    size_t high = set->tail;

    while (low < high) {
        size_t mid = low + (high - low) / 2;

        if (set->entries[mid].id < id)
            low = mid + 1;
        else
            high = mid;
    }
    return low < set->tail && set->entries[low].id == id ? low : set->tail;
}

/* The unanswered request with this id, or NULL (answered before, or never sent). */
static struct request *
outstanding_find(const struct outstanding *set, uint64_t id)
{
    size_t position = outstanding_position(set, id);

    return position < set->tail ? set->entries[position].request : NULL;
}

/* Forgets a request (the caller frees it). */
static void
outstanding_remove(struct outstanding *set, const struct request *request)
{
    size_t position = outstanding_position(set, request->id);

    if (position == set->tail || set->entries[position].request != request)
        return;
    set->entries[position].request = NULL;
    set->live--;
    while (set->head < set->tail && set->entries[set->head].request == NULL)
        set->head++;
}

static void
outstanding_release(struct outstanding *set)
{
    for (size_t i = set->head; i < set->tail; i++)
        request_free(set->entries[i].request);
    free(set->entries);
    memset(set, 0, sizeof(*set));
}

/* ---- sending ---- */

/*
 * Sends (again) one outstanding request and arms its retry.  Without a
 * connection nothing is sent: every request goes out when one is made.
 * (The socket is CLIENT_IMMEDIATE, so no copy queued for a lost connection
 * goes out on the next one, where it would confuse the suspects' trials.)
 * Returns 0 or a negative errno.
 */
static int
transmit(struct pub *pub, struct request *request, int64_t now)
{
    int r;

    if (!pub->connected)
        return 0;
    r = client_send(pub->client, request->body, request->len);
    if (r == -EAGAIN) {
        request->retry_at_ms = now + PUB_SEND_AGAIN_MS;
    } else if (r < 0) {
        fprintf(stderr, "carehub-pub: cannot send to %s: %s\n", client_endpoint_of(pub->client),
                zmq_strerror(-r));
        pub->failed = true;
        return r;
    } else {
        request->sent_on = pub->connection;
        request->sent_at_ms = now;
        request->retry_at_ms = now + request->retry_interval_ms;
    }
    if (request->retry_at_ms < pub->next_retry_ms)
        pub->next_retry_ms = request->retry_at_ms;
    return 0;
}

static int
send_pending(struct pub *pub)
{
    struct request *request = pub->pending;
    int64_t now = client_now_ms();

    if (request == NULL)
        return 0;
    if (request_close(request) < 0 || outstanding_add(&pub->outstanding, request) < 0) {
        fprintf(stderr, "carehub-pub: out of memory\n");
        pub->failed = true;
        return -ENOMEM;
    }
    pub->pending = NULL;
    if (pub->outstanding.live == 1)
        pub->last_progress_ms = now; /* the timeout counts from here */
    pub->unacked_events += request->count;
    return transmit(pub, request, now);
}

static bool
window_has_room(const struct pub *pub)
{
    size_t pending = pub->pending ? pub->pending->count : 0;

    return pub->unacked_events + pending < pub->options.window;
}

static int
add_event(struct pub *pub, const struct read_item *item)
{
    struct request *request = pub->pending;
    int r;

    /* "]}" and a comma go with the event. */
    if (request != NULL && request->len + item->len + 3 > pub->byte_limit) {
        r = send_pending(pub);
        if (r < 0)
            return r;
        request = NULL;
    }
    if (request == NULL) {
        request = request_new(++pub->next_id);
        if (request == NULL)
            goto nomem;
        pub->pending = request;
    }
    if (request_add_event(request, item->text, item->len,
                          &(struct origin){.file = pub->file_index, .line = item->line}) < 0)
        goto nomem;
    if (request->count >= pub->batch_limit)
        return send_pending(pub);
    return 0;
nomem:
    fprintf(stderr, "carehub-pub: out of memory\n");
    pub->failed = true;
    return -ENOMEM;
}

/*
 * Reads input and sends requests while the window has room and no suspect is
 * waiting to be sent alone.  Stops when the input would block
 * (waiting_for_input is then set), when the window is full or at the end of
 * the input.  A partly filled request goes out whenever reading stops, so
 * that a slow producer's events are not held back.
 */
static int
fill(struct pub *pub)
{
    int r = 0;

    pub->waiting_for_input = false;
    while (!pub->inputs_done && !pub->failed && window_has_room(pub) && pub->suspects == 0) {
        struct read_item item;

        if (!pub->reader_open) {
            r = open_next_input(pub);
            if (r < 0) {
                pub->failed = true;
                pub->file_index++;
            }
            continue;
        }
        switch (reader_next(&pub->reader, &item)) {
        case READ_VALUE:
            r = add_event(pub, &item);
            if (r < 0)
                return r;
            break;
        case READ_BAD:
            report_rejection(pub, &(struct origin){.file = pub->file_index, .line = item.line},
                             item.code, item.message);
            break;
        case READ_NEED_INPUT:
            if (!reader_ready(&pub->reader)) {
                pub->waiting_for_input = true;
                goto out;
            }
            r = reader_fill(&pub->reader);
            if (r < 0) {
                fprintf(stderr, "carehub-pub: out of memory\n");
                pub->failed = true;
                return r;
            }
            break;
        case READ_END:
            close_input(pub);
            break;
        }
    }
out:
    return send_pending(pub);
}

/* ---- requests too large for the daemon ---- */

/* Why a request is too large for the daemon. */
enum too_large {
    TOO_MANY_EVENTS,   /* batch_too_large */
    TOO_MANY_BYTES,    /* message_too_large */
    TOO_LARGE_TO_READ, /* the daemon dropped the connection on it */
};

/* The request is no longer suspected of making the daemon drop the connection. */
static void
clear_suspect(struct pub *pub, struct request *request)
{
    if (request->suspect)
        pub->suspects--;
    request->suspect = false;
    if (pub->probe == request)
        pub->probe = NULL;
}

/* Forgets an outstanding request without freeing it or counting its events out. */
static void
unlist_request(struct pub *pub, struct request *request)
{
    outstanding_remove(&pub->outstanding, request);
    clear_suspect(pub, request);
}

static void
finish_request(struct pub *pub, struct request *request)
{
    unlist_request(pub, request);
    pub->unacked_events -= request->count;
    request_free(request);
}

/*
 * Replaces an outstanding request the daemon found too large by two holding
 * the first and the second half of its events, sent in that order, and
 * lowers the limit it broke to the larger half, so that later requests stay
 * under what the daemon takes.  The halves of a request that dropped the
 * connection are suspects in turn, each sent alone.  The events stay
 * unacknowledged, so the window is unchanged.  Returns 0 or a negative errno
 * (pub->failed is then set).
 */
static int
split_request(struct pub *pub, struct request *request, enum too_large why, int64_t now)
{
    size_t half = request->count / 2;
    struct request *parts[2] = {request_new(pub->next_id + 1), request_new(pub->next_id + 2)};
    struct request *added[2];
    size_t larger;
    int r;

    if (parts[0] == NULL || parts[1] == NULL)
        goto nomem;
    for (size_t i = 0; i < request->count; i++) {
        const struct request_event *event = &request->events[i];

        if (request_add_event(parts[i >= half], request->body + event->offset, event->len,
                              &event->origin) < 0)
            goto nomem;
    }
    if (request_close(parts[0]) < 0 || request_close(parts[1]) < 0)
        goto nomem;
    if (why == TOO_MANY_EVENTS) {
        larger = request->count - half;
        if (larger < pub->batch_limit)
            pub->batch_limit = larger;
    } else {
        larger = parts[0]->len > parts[1]->len ? parts[0]->len : parts[1]->len;
        if (larger < pub->byte_limit)
            pub->byte_limit = larger;
    }
    pub->next_id += 2;
    unlist_request(pub, request);
    request_free(request);
    pub->last_progress_ms = now;
    for (int i = 0; i < 2; i++) {
        if (outstanding_add(&pub->outstanding, parts[i]) < 0)
            goto nomem;
        added[i] = parts[i];
        parts[i] = NULL;
    }
    for (int i = 0; i < 2; i++) {
        if (why == TOO_LARGE_TO_READ) {
            added[i]->suspect = true;
            pub->suspects++;
        } else if ((r = transmit(pub, added[i], now)) < 0) {
            return r;
        }
    }
    return 0;
nomem:
    request_free(parts[0]);
    request_free(parts[1]);
    fprintf(stderr, "carehub-pub: out of memory\n");
    pub->failed = true;
    return -ENOMEM;
}

/*
 * The request that a message_too_large reply without an id refers to, among
 * those on the wire that are larger than every request the daemon answered
 * on this connection: the one of the size the daemon's message gives, or
 * else the largest, if it is at least that size.  A request at least as
 * large as a refused one is refused too, so the choice never splits a
 * request the daemon could take, and each refused request gets its own
 * reply.  NULL when none qualifies: the reply is about a copy of a request
 * split before.
 */
static struct request *
too_large_candidate(const struct pub *pub, const char *message)
{
    struct request *largest = NULL;
    unsigned long long size = 0;

    /* Only a hint, for a daemon of this version: messages may change. */
    if (message == NULL || sscanf(message, "the request is %llu bytes", &size) != 1)
        size = 0;
    for (size_t i = pub->outstanding.head; i < pub->outstanding.tail; i++) {
        struct request *request = pub->outstanding.entries[i].request;

        if (request == NULL || request->sent_on != pub->connection ||
            request->len <= pub->largest_answered)
            continue;
        if (request->len == size)
            return request;
        if (largest == NULL || request->len > largest->len)
            largest = request;
    }
    return largest != NULL && largest->len >= size ? largest : NULL;
}

/* A suspect lost the connection too often: split it, or reject its single event. */
static void
too_large_to_read(struct pub *pub, struct request *request, int64_t now)
{
    char message[256];

    if (request->count > 1) {
        split_request(pub, request, TOO_LARGE_TO_READ, now);
        return;
    }
    snprintf(message, sizeof(message),
             "the daemon dropped the connection each time this event (%zu bytes) was sent: it is "
             "far over the daemon's limits.max_message_bytes",
             request->events[0].len);
    pub->last_progress_ms = now;
    report_rejection(pub, &request->events[0].origin, WIRE_E_TOO_LARGE, message);
    finish_request(pub, request);
}

/* ---- replies ---- */

static void
reject_all(struct pub *pub, const struct request *request, const char *code, const char *message)
{
    for (size_t i = 0; i < request->count; i++)
        report_rejection(pub, &request->events[i].origin, code, message);
}

/* Counts the per-event outcomes of a successful publish reply. */
static void
take_results(struct pub *pub, const struct request *request, const cJSON *reply)
{
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(reply, "results");
    const cJSON *result;
    size_t i = 0;

    if (!cJSON_IsArray(results) || (size_t)cJSON_GetArraySize(results) != request->count) {
        reject_all(pub, request, "bad_reply",
                   "the daemon's reply does not give one result per event");
        return;
    }
    cJSON_ArrayForEach(result, results)
    {
        const char *status = wire_get_string(result, "status");

        if (status != NULL && strcmp(status, "stored") == 0) {
            pub->stored++;
        } else if (status != NULL && strcmp(status, "duplicate") == 0) {
            pub->duplicate++;
        } else {
            const cJSON *error = cJSON_GetObjectItemCaseSensitive(result, "error");

            report_rejection(pub, &request->events[i].origin, wire_get_string(error, "code"),
                             wire_get_string(error, "message"));
        }
        i++;
    }
}

static bool
code_is(const char *code, const char *expected)
{
    return code != NULL && strcmp(code, expected) == 0;
}

static void
handle_reply(struct pub *pub, const char *body, size_t len, int64_t now)
{
    cJSON *reply = cJSON_ParseWithLength(body, len);
    const cJSON *id;
    const char *code = NULL;
    const char *message = NULL;
    struct request *request = NULL;
    int status;

    if (reply == NULL) {
        fprintf(stderr, "carehub-pub: ignoring a reply that is not JSON\n");
        return;
    }
    status = wire_reply_status(reply, &code, &message);
    id = cJSON_GetObjectItemCaseSensitive(reply, "id");
    if (cJSON_IsNumber(id) && id->valuedouble >= 1 && id->valuedouble <= (double)pub->next_id) {
        request = outstanding_find(&pub->outstanding, (uint64_t)id->valuedouble);
        /* The daemon read its id: it takes a request this large. */
        if (request != NULL && request->len > pub->largest_answered)
            pub->largest_answered = request->len;
        if (request != NULL)
            clear_suspect(pub, request);
    } else if (status == -EREMOTEIO && code_is(code, WIRE_E_TOO_LARGE)) {
        /* The daemon refused the message before reading its id. */
        request = too_large_candidate(pub, message);
    } else if (status == -EREMOTEIO) {
        fprintf(stderr, "carehub-pub: the daemon reported an error without a request id: ");
        put_sanitized(stderr, code ? code : "?");
        fputs(": ", stderr);
        put_sanitized(stderr, message ? message : "?");
        fputc('\n', stderr);
    }
    if (request == NULL)
        goto out; /* a late reply to a request answered before */
    if (status == -EREMOTEIO && code_is(code, WIRE_E_UNAVAILABLE)) {
        /* The daemon is stopping or cannot store now: try again later, and do
         * not count this as progress, so that --timeout still applies. */
        request->retry_at_ms = now + request->retry_interval_ms;
        if (request->retry_interval_ms < PUB_RETRY_MAX_MS)
            request->retry_interval_ms *= 2;
        if (request->retry_at_ms < pub->next_retry_ms)
            pub->next_retry_ms = request->retry_at_ms;
        goto out;
    }
    pub->last_progress_ms = now;
    if (status == -EREMOTEIO && request->count > 1 &&
        (code_is(code, WIRE_E_TOO_LARGE) || code_is(code, WIRE_E_BATCH_TOO_LARGE))) {
        split_request(pub, request,
                      code_is(code, WIRE_E_TOO_LARGE) ? TOO_MANY_BYTES : TOO_MANY_EVENTS, now);
        goto out;
    }
    if (status == 0)
        take_results(pub, request, reply);
    else if (status == -EREMOTEIO)
        reject_all(pub, request, code, message);
    else
        reject_all(pub, request, "bad_reply", "the daemon's reply is not a carehub envelope");
    finish_request(pub, request);
out:
    cJSON_Delete(reply);
}

static void
drain_replies(struct pub *pub)
{
    for (;;) {
        char *body;
        size_t len;
        int r = client_receive(pub->client, &body, &len);

        if (r == -EAGAIN)
            return;
        if (r == -EPROTO) {
            fprintf(stderr, "carehub-pub: ignoring a reply with unexpected frames\n");
            continue;
        }
        if (r < 0) {
            fprintf(stderr, "carehub-pub: cannot receive from %s: %s\n",
                    client_endpoint_of(pub->client), zmq_strerror(-r));
            pub->failed = true;
            return;
        }
        handle_reply(pub, body, len, client_now_ms());
        free(body);
    }
}

/* ---- the connection ---- */

/*
 * Sends every outstanding request whose retry is due (or all of them), but
 * not the suspects held back: only the one being probed is sent again.
 */
static void
resend(struct pub *pub, bool all, int64_t now)
{
    pub->next_retry_ms = INT64_MAX;
    if (!pub->connected)
        return; /* everything goes when the connection is back */
    for (size_t i = pub->outstanding.head; i < pub->outstanding.tail && !pub->failed; i++) {
        struct request *request = pub->outstanding.entries[i].request;

        if (request == NULL || (request->suspect && request != pub->probe))
            continue;
        if (all || request->retry_at_ms <= now) {
            if (!all && request->retry_interval_ms < PUB_RETRY_MAX_MS)
                request->retry_interval_ms *= 2;
            transmit(pub, request, now);
        } else if (request->retry_at_ms < pub->next_retry_ms) {
            pub->next_retry_ms = request->retry_at_ms;
        }
    }
}

/*
 * Sends the first suspect alone once nothing else waits for a reply, so that
 * if the connection drops, the suspect is what dropped it.
 */
static void
send_probe(struct pub *pub, int64_t now)
{
    if (!pub->connected || pub->probe != NULL || pub->suspects == 0 ||
        pub->outstanding.live > pub->suspects)
        return;
    for (size_t i = pub->outstanding.head; i < pub->outstanding.tail; i++) {
        struct request *request = pub->outstanding.entries[i].request;

        if (request != NULL && request->suspect) {
            pub->probe = request;
            transmit(pub, request, now);
            return;
        }
    }
}

/*
 * The connection is lost, and with it the replies to what was sent on it.  A
 * suspect sent alone is charged with the loss when it came right after the
 * sending; charged too often, it is taken to be too large to read.  Otherwise
 * the largest request on the wire becomes a suspect: a request far over the
 * daemon's size limit makes it drop the connection, and the largest is the
 * one that would.  A daemon that merely restarted answers it when it is sent
 * alone, and nothing is lost but a little time.
 */
static void
connection_lost(struct pub *pub, int64_t now)
{
    struct request *suspect = pub->probe;

    pub->connected = false;
    pub->largest_answered = 0; /* the next daemon may have other limits */
    pub->next_retry_ms = INT64_MAX;
    if (suspect != NULL) {
        pub->probe = NULL;
        if (now - suspect->sent_at_ms <= PUB_DROP_GRACE_MS)
            suspect->drops++;
        if (suspect->drops > PUB_MAX_DROPS)
            too_large_to_read(pub, suspect, now);
        return;
    }
    for (size_t i = pub->outstanding.head; i < pub->outstanding.tail; i++) {
        struct request *request = pub->outstanding.entries[i].request;

        if (request != NULL && !request->suspect && request->sent_on == pub->connection &&
            (suspect == NULL || request->len > suspect->len))
            suspect = request;
    }
    if (suspect != NULL) {
        suspect->suspect = true;
        pub->suspects++;
    }
}

/* A connection is made: what was sent before it is lost, so everything goes again. */
static void
connection_made(struct pub *pub, int64_t now)
{
    pub->connected = true;
    pub->connection++;
    resend(pub, true, now);
}

static void
drain_link_events(struct pub *pub)
{
    enum client_link_event event;

    while (client_monitor_event(pub->client, &event) == 0) {
        if (event == CLIENT_LINK_DISCONNECTED && pub->connected) {
            /* Replies taken before the loss are the lost connection's. */
            drain_replies(pub);
            connection_lost(pub, client_now_ms());
        } else if (event == CLIENT_LINK_CONNECTED && !pub->connected) {
            connection_made(pub, client_now_ms());
        }
    }
}

/* ---- main loop ---- */

static int
poll_timeout_ms(const struct pub *pub, int64_t now)
{
    int64_t wait = -1;

    if (pub->outstanding.live > 0) {
        wait = pub->next_retry_ms - now;
        if (pub->options.timeout_ms > 0 &&
            pub->last_progress_ms + pub->options.timeout_ms - now < wait)
            wait = pub->last_progress_ms + pub->options.timeout_ms - now;
        if (wait < 0)
            wait = 0;
        if (wait > INT_MAX)
            wait = INT_MAX;
    }
    return (int)wait;
}

static int
run(struct pub *pub)
{
    void *monitor = client_monitor_socket(pub->client);

    pub->next_retry_ms = INT64_MAX;
    for (;;) {
        zmq_pollitem_t items[3] = {
            {.socket = client_socket(pub->client), .events = ZMQ_POLLIN},
            {.socket = monitor, .events = ZMQ_POLLIN},
            {.fd = pub->reader.fd, .events = ZMQ_POLLIN},
        };
        int64_t now;
        int count;

        if (fill(pub) < 0 || pub->failed)
            return -1;
        if (pub->inputs_done && pub->pending == NULL && pub->outstanding.live == 0)
            return 0;
        count = pub->waiting_for_input && window_has_room(pub) ? 3 : 2;
        fflush(stderr);
        if (zmq_poll(items, count, poll_timeout_ms(pub, client_now_ms())) < 0 &&
            zmq_errno() != EINTR) {
            fprintf(stderr, "carehub-pub: %s\n", zmq_strerror(zmq_errno()));
            return -1;
        }
        if (count == 3 && (items[2].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) &&
            reader_fill(&pub->reader) < 0) {
            fprintf(stderr, "carehub-pub: out of memory\n");
            return -1;
        }
        drain_replies(pub);
        drain_link_events(pub);
        now = client_now_ms();
        if (pub->outstanding.live > 0 && now >= pub->next_retry_ms)
            resend(pub, false, now);
        send_probe(pub, now);
        if (pub->failed)
            return -1;
        if (pub->outstanding.live > 0 && pub->options.timeout_ms > 0 &&
            now - pub->last_progress_ms >= pub->options.timeout_ms) {
            fprintf(stderr,
                    "carehub-pub: no reply from %s for %.3g s; %zu events not acknowledged\n",
                    client_endpoint_of(pub->client), (double)pub->options.timeout_ms / 1000.0,
                    pub->unacked_events);
            return -1;
        }
    }
}

/* ---- command line ---- */

static int
parse_count(const char *text, size_t max, size_t *out)
{
    char *end;
    unsigned long long value;

    errno = 0;
    value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value < 1 || value > max)
        return -EINVAL;
    *out = (size_t)value;
    return 0;
}

static int
parse_seconds(const char *text, int64_t *out_ms)
{
    char *end;
    double value;

    errno = 0;
    value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(value >= 0) || value > 1e7)
        return -EINVAL;
    *out_ms = (int64_t)(value * 1000.0 + 0.5);
    if (value > 0 && *out_ms == 0)
        *out_ms = 1;
    return 0;
}

/* Checks that every input can be opened before anything is sent. */
static int
check_inputs(char **files, unsigned count)
{
    int failures = 0;

    for (unsigned i = 0; i < count; i++) {
        struct stat st;
        int fd;

        if (strcmp(files[i], "-") == 0)
            continue;
        fd = open(files[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "carehub-pub: %s: %s\n", files[i], strerror(errno));
            failures++;
            continue;
        }
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
            fprintf(stderr, "carehub-pub: %s: %s\n", files[i], strerror(EISDIR));
            failures++;
        }
        close(fd);
    }
    return failures ? -ENOENT : 0;
}

static int
parse_options(int argc, char **argv, struct options *options)
{
    static const struct option long_options[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"batch", required_argument, NULL, 'b'},
        {"window", required_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        {"key-file", required_argument, NULL, 'K'},
        {"server-key", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    options->batch = PUB_DEFAULT_BATCH;
    options->window = PUB_DEFAULT_WINDOW;
    options->timeout_ms = (int64_t)(PUB_DEFAULT_TIMEOUT_S * 1000);
    while ((c = getopt_long(argc, argv, "e:qh", long_options, NULL)) != -1) {
        switch (c) {
        case 'e':
            options->endpoint = optarg;
            break;
        case 'b':
            if (parse_count(optarg, PUB_MAX_BATCH, &options->batch) < 0) {
                fprintf(stderr, "carehub-pub: --batch wants a count from 1 to %d\n", PUB_MAX_BATCH);
                return -EINVAL;
            }
            break;
        case 'w':
            if (parse_count(optarg, PUB_MAX_WINDOW, &options->window) < 0) {
                fprintf(stderr, "carehub-pub: --window wants a count from 1 to %d\n",
                        PUB_MAX_WINDOW);
                return -EINVAL;
            }
            break;
        case 't':
            if (parse_seconds(optarg, &options->timeout_ms) < 0) {
                fprintf(stderr, "carehub-pub: --timeout wants a number of seconds\n");
                return -EINVAL;
            }
            break;
        case 'q':
            options->quiet = true;
            break;
        case 'K':
            options->key_file = optarg;
            break;
        case 'S':
            options->server_key = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    /* A request never holds more events than may be unacknowledged. */
    if (options->batch > options->window)
        options->batch = options->window;
    options->endpoint = client_endpoint(options->endpoint);
    if (options->endpoint == NULL) {
        fprintf(stderr, "carehub-pub: no endpoint: use -e ENDPOINT or set %s\n",
                CLIENT_ENDPOINT_ENV);
        return -EINVAL;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static char *standard_input[] = {"-", NULL};
    static char stderr_buffer[1 << 16];
    struct pub pub = {0};
    struct client_security security;
    char err[512];
    int status = 2;

    /* Many rejections are written per loop; flushed before every wait. */
    setvbuf(stderr, stderr_buffer, _IOFBF, sizeof(stderr_buffer));
    if (parse_options(argc, argv, &pub.options) < 0)
        goto out;
    pub.files = optind < argc ? argv + optind : standard_input;
    pub.file_count = optind < argc ? (unsigned)(argc - optind) : 1;
    if (check_inputs(pub.files, pub.file_count) < 0)
        goto out;
    pub.reader.fd = -1;
    pub.batch_limit = pub.options.batch;
    pub.byte_limit = PUB_MAX_REQUEST_BYTES;
    if (client_security_load(&security, pub.options.key_file, pub.options.server_key, err,
                             sizeof(err)) < 0 ||
        client_open_secure(&pub.client, pub.options.endpoint, CLIENT_MONITOR | CLIENT_IMMEDIATE,
                           &security, err, sizeof(err)) < 0) {
        explicit_bzero(&security, sizeof(security));
        fprintf(stderr, "carehub-pub: %s\n", err);
        goto out;
    }
    explicit_bzero(&security, sizeof(security));
    if (run(&pub) < 0)
        pub.failed = true;
    /* The rejections first, so that the summary comes last in a shared file. */
    fflush(stderr);
    if (!pub.options.quiet)
        printf("stored %llu, duplicate %llu, rejected %llu\n", pub.stored, pub.duplicate,
               pub.rejected);
    status = pub.failed ? 2 : pub.rejected > 0 ? 1 : 0;
out:
    if (pub.reader_open)
        reader_release(&pub.reader);
    request_free(pub.pending);
    outstanding_release(&pub.outstanding);
    client_close(pub.client);
    if (fflush(stdout) != 0 && status == 0)
        status = 2;
    fflush(stderr);
    return status;
}
