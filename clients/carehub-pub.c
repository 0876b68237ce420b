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
 * whether its own limit allows it. */
#define PUB_MAX_REQUEST_BYTES (1024 * 1024)

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

/* One publish request: its body and where each of its events came from. */
struct request {
    uint64_t id;
    char *body;
    size_t len;
    size_t cap;
    struct origin *origins;
    size_t count;
    size_t origins_cap;
    int64_t retry_at_ms;
    int retry_interval_ms;
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
    bool link_lost;
    bool failed; /* exit 2 */
    unsigned long long stored;
    unsigned long long duplicate;
    unsigned long long rejected;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: carehub-pub [-e ENDPOINT] [--batch N] [--window N] [--timeout SECONDS]\n"
            "                   [--quiet] [FILE...]\n"
            "\n"
            "Publishes CloudEvents to carehubd.  Each FILE (standard input when there is\n"
            "none, or for -) holds a stream of JSON values: each object is one event, each\n"
            "array contributes its elements.  Prints \"stored N, duplicate N, rejected N\"\n"
            "at the end, and each rejected event on standard error as\n"
            "\"FILE:LINE: CODE: MESSAGE\".\n"
            "\n"
            "  -e, --endpoint ENDPOINT  the daemon's API socket (default: $%s)\n"
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
            "Exit status: 0 every event was stored or a duplicate, 1 some input was\n"
            "rejected, 2 usage, input or connection error, or timeout.\n",
            CLIENT_ENDPOINT_ENV, PUB_DEFAULT_BATCH, PUB_DEFAULT_WINDOW, PUB_DEFAULT_TIMEOUT_S);
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
    free(request->origins);
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

static int
request_add_event(struct request *request, const struct read_item *item, unsigned file)
{
    if (request->count == request->origins_cap) {
        size_t cap = request->origins_cap ? request->origins_cap * 2 : 64;
        struct origin *grown = realloc(request->origins, cap * sizeof(*grown));

        if (grown == NULL)
            return -ENOMEM;
        request->origins = grown;
        request->origins_cap = cap;
    }
    if ((request->count > 0 && request_append(request, ",", 1) < 0) ||
        request_append(request, item->text, item->len) < 0)
        return -ENOMEM;
    request->origins[request->count].file = file;
    request->origins[request->count].line = item->line;
    request->count++;
    return 0;
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

/* Sends (again) one outstanding request and arms its retry.  Returns 0 or a negative errno. */
static int
transmit(struct pub *pub, struct request *request, int64_t now)
{
    int r = client_send(pub->client, request->body, request->len);

    if (r == -EAGAIN) {
        request->retry_at_ms = now + PUB_SEND_AGAIN_MS;
    } else if (r < 0) {
        fprintf(stderr, "carehub-pub: cannot send to %s: %s\n", client_endpoint_of(pub->client),
                zmq_strerror(-r));
        pub->failed = true;
        return r;
    } else {
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
    int r;

    if (request == NULL)
        return 0;
    if (request_append(request, "]}", 2) < 0 || outstanding_add(&pub->outstanding, request) < 0) {
        fprintf(stderr, "carehub-pub: out of memory\n");
        pub->failed = true;
        return -ENOMEM;
    }
    pub->pending = NULL;
    if (pub->outstanding.live == 1)
        pub->last_progress_ms = now; /* the timeout counts from here */
    pub->unacked_events += request->count;
    r = transmit(pub, request, now);
    return r;
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
    if (request != NULL && request->len + item->len + 3 > PUB_MAX_REQUEST_BYTES) {
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
    if (request_add_event(request, item, pub->file_index) < 0)
        goto nomem;
    if (request->count >= pub->options.batch)
        return send_pending(pub);
    return 0;
nomem:
    fprintf(stderr, "carehub-pub: out of memory\n");
    pub->failed = true;
    return -ENOMEM;
}

/*
 * Reads input and sends requests while the window has room.  Stops when the
 * input would block (waiting_for_input is then set), when the window is full
 * or at the end of the input.  A partly filled request goes out whenever
 * reading stops, so that a slow producer's events are not held back.
 */
static int
fill(struct pub *pub)
{
    int r = 0;

    pub->waiting_for_input = false;
    while (!pub->inputs_done && !pub->failed && window_has_room(pub)) {
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

/* ---- replies ---- */

/* The outstanding request with the largest body: the one a size limit refused. */
static struct request *
largest_outstanding(const struct pub *pub)
{
    struct request *largest = NULL;

    for (size_t i = pub->outstanding.head; i < pub->outstanding.tail; i++) {
        struct request *request = pub->outstanding.entries[i].request;

        if (request != NULL && (largest == NULL || request->len > largest->len))
            largest = request;
    }
    return largest;
}

static void
finish_request(struct pub *pub, struct request *request)
{
    outstanding_remove(&pub->outstanding, request);
    pub->unacked_events -= request->count;
    request_free(request);
}

static void
reject_all(struct pub *pub, const struct request *request, const char *code, const char *message)
{
    for (size_t i = 0; i < request->count; i++)
        report_rejection(pub, &request->origins[i], code, message);
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

            report_rejection(pub, &request->origins[i], wire_get_string(error, "code"),
                             wire_get_string(error, "message"));
        }
        i++;
    }
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
    } else if (status == -EREMOTEIO && code != NULL && strcmp(code, WIRE_E_TOO_LARGE) == 0) {
        /* The daemon refused the message before reading its id. */
        request = largest_outstanding(pub);
    } else if (status == -EREMOTEIO) {
        fprintf(stderr, "carehub-pub: the daemon reported an error without a request id: ");
        put_sanitized(stderr, code ? code : "?");
        fputs(": ", stderr);
        put_sanitized(stderr, message ? message : "?");
        fputc('\n', stderr);
    }
    if (request == NULL)
        goto out; /* a late reply to a request answered before */
    if (status == -EREMOTEIO && code != NULL && strcmp(code, WIRE_E_UNAVAILABLE) == 0) {
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

/* Sends every outstanding request whose retry is due (or all of them). */
static void
resend(struct pub *pub, bool all, int64_t now)
{
    pub->next_retry_ms = INT64_MAX;
    for (size_t i = pub->outstanding.head; i < pub->outstanding.tail && !pub->failed; i++) {
        struct request *request = pub->outstanding.entries[i].request;

        if (request == NULL)
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

static void
drain_link_events(struct pub *pub)
{
    enum client_link_event event;

    while (client_monitor_event(pub->client, &event) == 0) {
        if (event == CLIENT_LINK_DISCONNECTED) {
            pub->link_lost = true;
        } else if (event == CLIENT_LINK_CONNECTED && pub->link_lost) {
            /* Whatever was on the wire or queued in the old daemon is lost. */
            pub->link_lost = false;
            resend(pub, true, client_now_ms());
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
    char err[256];
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
    if (client_open(&pub.client, pub.options.endpoint, CLIENT_MONITOR, err, sizeof(err)) < 0) {
        fprintf(stderr, "carehub-pub: %s\n", err);
        goto out;
    }
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
