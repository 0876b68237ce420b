#!/usr/bin/python3
"""The man pages in man/ against the programs they describe.

For each program, `PROGRAM --help` prints its usage(); its page must match:
  - SYNOPSIS: the same lines as usage's "usage:" lines (roff escapes and
    spacing aside);
  - OPTIONS: an entry (.TP) for every option of usage, spelt the same, with
    the same argument name ("-c, --config FILE"), and no entry for an option
    usage does not have;
  - carehubctl's COMMANDS: an entry for every command, headed by the
    command's synopsis as usage gives it, with an entry (.TP inside .RS) for
    each option of that synopsis, and nothing else;
  - EXIT STATUS: an entry for each status usage names; ENVIRONMENT: an entry
    for each variable usage names ($CAREHUB_ENDPOINT).
carehubd.conf(5) must have an entry for every key of the key tables of
docs/configuration.md, and carehub-notify(1) one for every key of
docs/notify.md's configuration reference.  Every page must render with
`man --warnings` without a warning.

The pages are parsed as written in this project: an entry is a .TP whose
next line is the tag; .SY/.YS or lines broken by .br/.PP make the synopsis.
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

MAN_DIR = os.path.join(h.SOURCE_DIR, "man")
DOCS_DIR = os.path.join(h.SOURCE_DIR, "docs")

# program -> its page
PAGES = {
    "carehubd": "carehubd.8",
    "carehub-pub": "carehub-pub.1",
    "carehubctl": "carehubctl.1",
    "carehub-notify": "carehub-notify.1",
}
CONF_PAGE = "carehubd.conf.5"

# Sections every page has, and those the daemons add.
COMMON_SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "EXIT STATUS", "EXAMPLES",
                   "SEE ALSO")
DAEMONS = ("carehubd", "carehub-notify")

MAN_ENV = {"LC_ALL": "C.UTF-8", "MANROFFSEQ": "", "MANWIDTH": "80"}


# ---- roff ----

# Escapes that stand for one character, and those that print nothing.
ROFF_CHARS = {
    "-": "-", "e": "\\", "(aq": "'", "(dq": '"', "(lq": '"', "(rq": '"', "(oq": "'",
    "(cq": "'", "(em": "--", "(en": "-", "(bu": "*", "(ti": "~", "(ha": "^", " ": " ",
    "~": " ", "0": " ", ".": ".",
}
ROFF_NOTHING = ("&", "|", "^", "%", ":", "c")
ESCAPE = re.compile(r"\\(f(?:\[[^\]]*\]|\(..|.)|s[-+]?\d|\(..|\[[^\]]*\]|.)")


def deroff(text):
    """The text of roff input without font changes and with escapes resolved."""

    def replace(match):
        escape = match.group(1)
        if escape.startswith("f") or escape.startswith("s"):
            return ""
        if escape in ROFF_CHARS:
            return ROFF_CHARS[escape]
        if escape in ROFF_NOTHING:
            return ""
        if escape.startswith("[") and escape[1:-1] in ("aq", "dq", "lq", "rq"):
            return ROFF_CHARS["(" + escape[1:-1]]
        return escape

    return ESCAPE.sub(replace, text)


def macro_arguments(text):
    """The arguments of a macro line, as roff splits them (double quotes group,
    "" inside quotes is one quote)."""
    args, i = [], 0
    while i < len(text):
        if text[i] in " \t":
            i += 1
            continue
        if text[i] == '"':
            i += 1
            arg = []
            while i < len(text):
                if text[i] == '"':
                    if text[i + 1:i + 2] == '"':
                        arg.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                if text[i] == "\\" and i + 1 < len(text):
                    arg.append(text[i:i + 2])
                    i += 2
                    continue
                arg.append(text[i])
                i += 1
            args.append("".join(arg))
        else:
            start = i
            while i < len(text) and text[i] not in " \t":
                i += 2 if text[i] == "\\" else 1
            args.append(text[start:i])
    return args


FONT_MACROS = ("B", "I", "SM", "SB")
ALTERNATING_MACROS = ("BR", "RB", "IR", "RI", "BI", "IB")


def line_text(line):
    """The text a line of roff prints: a text line, or a font macro's
    arguments (joined by spaces for .B, run together for .BR and the like).
    None for a line that prints nothing of its own (.TP, .PP, a comment...)."""
    if not line.startswith((".", "'")):
        return deroff(line)
    name, _, rest = line[1:].strip().partition(" ")
    if name in FONT_MACROS:
        return deroff(" ".join(macro_arguments(rest)))
    if name in ALTERNATING_MACROS:
        return deroff("".join(macro_arguments(rest)))
    return None


def macro_name(line):
    """The name of the macro on a line ("TP"), or None for a text line."""
    if not line.startswith((".", "'")):
        return None
    return line[1:].strip().split(" ")[0]


def normalise(text):
    return " ".join(text.split())


def read_page(name):
    with open(os.path.join(MAN_DIR, name), encoding="utf-8") as f:
        lines = f.read().split("\n")
    return [line for line in lines if not line.startswith(('.\\"', "'\\\""))]


def split_headed(lines, macro):
    """The lines under each heading macro (.SH or .SS): [(title, lines)], in
    order; lines before the first heading are left out."""
    parts = []
    for line in lines:
        if macro_name(line) == macro:
            title = normalise(deroff(" ".join(macro_arguments(line[len(macro) + 1:]))))
            parts.append((title, []))
        elif parts:
            parts[-1][1].append(line)
    return parts


def sections(lines):
    """{SECTION TITLE: its lines} of a page."""
    found = {}
    for title, body in split_headed(lines, "SH"):
        found.setdefault(title.upper(), []).extend(body)
    return found


def entries(lines):
    """The tags of the .TP entries in lines: [(depth, tag text)], where depth
    counts the .RS blocks the entry is inside."""
    found, depth, i = [], 0, 0
    while i < len(lines):
        name = macro_name(lines[i])
        if name == "RS":
            depth += 1
        elif name == "RE":
            depth = max(0, depth - 1)
        elif name in ("SH", "SS"):
            depth = 0
        elif name == "TP" and i + 1 < len(lines):
            tag = line_text(lines[i + 1])
            if tag is not None:
                found.append((depth, normalise(tag)))
            i += 1
        i += 1
    return found


def page_synopses(lines):
    """The synopses of a SYNOPSIS section: one per .SY ... .YS block, or else
    one per run of text lines between .br, .PP, .P, .LP or .sp."""
    synopses, current = [], None
    uses_sy = any(macro_name(line) == "SY" for line in lines)
    for line in lines:
        name = macro_name(line)
        if uses_sy:
            if name == "SY":
                current = [deroff(" ".join(macro_arguments(line[3:])))]
                synopses.append(current)
            elif name == "YS":
                current = None
            elif current is not None:
                text = line_text(line)
                if text is not None:
                    current.append(text)
        else:
            if name in ("br", "PP", "P", "LP", "sp"):
                current = None
                continue
            text = line_text(line)
            if text is None or not text.strip():
                continue
            if current is None:
                current = []
                synopses.append(current)
            current.append(text)
    return [normalise(" ".join(parts)) for parts in synopses]


def tag_terms(tag):
    """The names an entry's tag documents: "-c, --config FILE" gives -c and
    --config; "min, max" gives min and max."""
    return [part.split()[0] for part in tag.split(", ") if part.split()]


# ---- usage() ----

def run_help(program):
    cp = h.run_tool(os.path.join(h.BIN_DIR, program), ["--help"])
    if cp.returncode != 0:
        raise AssertionError("%s --help exited %d: %s" % (program, cp.returncode, cp.stderr))
    return cp.stdout


def usage_synopses(text, program):
    """usage's synopses: from the "usage:" line to the first blank line, each
    starting with the program's name; other lines continue the one before."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("usage:"))
    synopses = []
    for line in lines[start:]:
        if not line.strip():
            break
        stripped = line.strip()
        if stripped.startswith("usage:"):
            stripped = stripped[len("usage:"):].strip()
        if stripped == program or stripped.startswith(program + " ") or not synopses:
            synopses.append(stripped)
        else:
            synopses[-1] += " " + stripped
    return [normalise(s) for s in synopses]


def block(text, heading):
    """The lines after a line reading heading ("Commands:"), up to a blank line."""
    lines = text.split("\n")
    if heading not in lines:
        return None
    start = lines.index(heading) + 1
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    return lines[start:end]


def usage_option_specs(text):
    """Each option line of usage as written before its explanation:
    "-c, --config FILE", "--batch N".  Only the Options: block when there is
    one; never the Commands: block."""
    lines = block(text, "Options:")
    if lines is None:
        commands = block(text, "Commands:") or []
        lines = [line for line in text.split("\n") if line not in commands]
    specs = []
    for line in lines:
        stripped = line.strip()
        if re.match(r"-[A-Za-z-]", stripped):
            specs.append(normalise(re.split(r"\s{2,}", stripped)[0]))
    return specs


def usage_commands(text):
    """{command name: its synopsis} from usage's Commands: block."""
    commands, last = {}, None
    for line in block(text, "Commands:") or []:
        indent = len(line) - len(line.lstrip())
        stripped = line.strip()
        if indent == 2:
            name = stripped.split()[0]
            synopsis = re.split(r"\s{2,}", stripped)[0]
            commands[name] = synopsis
            last = name
        elif last is not None and stripped.startswith("["):
            # A synopsis too long for one line goes on, indented, with its next "[".
            commands[last] += " " + stripped
        else:
            last = None
    return {name: normalise(synopsis) for name, synopsis in commands.items()}


def synopsis_option_specs(synopsis):
    """The options of a command synopsis, each with its argument: "--days N"."""
    return [" ".join(filter(None, m))
            for m in re.findall(r"(--[a-z][a-z-]*)(?: ([A-Z][A-Z_]*))?", synopsis)]


def usage_exit_statuses(text):
    match = re.search(r"Exit status:(.*)", text, re.S)
    if match is None:
        return set()
    paragraph = normalise(match.group(1).split("\n\n")[0])
    return set(re.findall(r"(?:^|[,;:]) ?(\d+) ", paragraph))


def usage_environment(text):
    return set(re.findall(r"\$([A-Z][A-Z0-9_]+)", text))


# ---- docs ----

def markdown_key_tables(path):
    """The keys of every table of a markdown file whose first column is
    "key": [(context, [key, ...])], where context is the first word of the
    heading or bold paragraph the table follows ("kinds", "escalation")."""
    tables, context, in_code, current = [], "", False, None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for line in lines:
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        words = re.findall(r"[A-Za-z_]+", line)
        if line.startswith("#") or line.startswith("**"):
            context = words[0].lower() if words else ""
            current = None
            continue
        if re.match(r"\|\s*key\s*\|", line):
            current = (context, [])
            tables.append(current)
            continue
        if current is not None and line.startswith("|"):
            first = line.split("|")[1]
            if set(first.strip()) <= set("-: "):
                continue
            current[1].extend(re.findall(r"`([^`]+)`", first))
            continue
        current = None
    return tables


def render_warnings(path):
    """What `man --warnings -l` writes on standard error for a page."""
    env = dict(os.environ)
    env.update(MAN_ENV)
    cp = subprocess.run(["man", "--warnings", "-l", path], stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE, text=True, env=env, timeout=60)
    return cp.returncode, cp.stderr


# ---- tests ----

class Pages(unittest.TestCase):
    """Every page, against its program's usage()."""

    @classmethod
    def setUpClass(cls):
        cls.usage = {program: run_help(program) for program in PAGES}
        cls.pages = {program: read_page(page) for program, page in PAGES.items()}
        version = subprocess.run([h.CAREHUBD, "--version"], capture_output=True, text=True,
                                 env=h.tool_env(), timeout=60)
        cls.version = version.stdout.split()[-1]

    def page_sections(self, program):
        return sections(self.pages[program])

    def test_sections(self):
        for program, page in PAGES.items():
            with self.subTest(page=page):
                found = self.page_sections(program)
                wanted = list(COMMON_SECTIONS) + ["OPTIONS"]
                if program in DAEMONS:
                    wanted.append("SIGNALS")
                if usage_environment(self.usage[program]):
                    wanted.append("ENVIRONMENT")
                if usage_commands(self.usage[program]):
                    wanted.append("COMMANDS")
                missing = [s for s in wanted if s not in found]
                self.assertEqual(missing, [], "%s has no section %s" % (page, missing))

    def test_title_names_the_version(self):
        for page in list(PAGES.values()) + [CONF_PAGE]:
            with self.subTest(page=page):
                th = next(line for line in read_page(page) if macro_name(line) == "TH")
                args = macro_arguments(th[3:])
                self.assertEqual(deroff(args[0]), page.rsplit(".", 1)[0].upper())
                self.assertEqual(args[1], page.rsplit(".", 1)[1])
                self.assertEqual(args[3], "carehub " + self.version,
                                 "%s: .TH names another version than carehubd --version"
                                 % page)

    def test_synopsis_matches_usage(self):
        for program, page in PAGES.items():
            with self.subTest(page=page):
                wanted = usage_synopses(self.usage[program], program)
                found = page_synopses(self.page_sections(program)["SYNOPSIS"])
                self.assertEqual(found, wanted,
                                 "%s: SYNOPSIS differs from usage's \"usage:\" lines" % page)

    def test_options_match_usage(self):
        for program, page in PAGES.items():
            with self.subTest(page=page):
                wanted = usage_option_specs(self.usage[program])
                self.assertTrue(wanted, "no options found in %s --help" % program)
                found = [tag for depth, tag in entries(self.page_sections(program)["OPTIONS"])
                         if depth == 0]
                missing = [spec for spec in wanted if spec not in found]
                extra = [tag for tag in found if tag not in wanted]
                self.assertEqual(missing, [], "%s: OPTIONS lacks usage's %s" % (page, missing))
                self.assertEqual(extra, [], "%s: OPTIONS has %s, which usage has not"
                                 % (page, extra))
                self.assertEqual(len(found), len(set(found)),
                                 "%s: an option is listed twice" % page)

    def test_commands_match_usage(self):
        for program, page in PAGES.items():
            wanted = usage_commands(self.usage[program])
            if not wanted:
                continue
            with self.subTest(page=page):
                documented, current = {}, None
                for depth, tag in entries(self.page_sections(program)["COMMANDS"]):
                    if depth == 0:
                        current = tag.split()[0]
                        self.assertNotIn(current, documented,
                                         "%s: command %s is listed twice" % (page, current))
                        documented[current] = (tag, [])
                    elif current is not None:
                        documented[current][1].append(tag)
                self.assertEqual(sorted(documented), sorted(wanted),
                                 "%s: COMMANDS differ from usage's" % page)
                for name, synopsis in wanted.items():
                    tag, options = documented[name]
                    self.assertEqual(tag, synopsis,
                                     "%s: the entry of %s differs from usage" % (page, name))
                    self.assertEqual(sorted(options), sorted(synopsis_option_specs(synopsis)),
                                     "%s: the options listed under %s differ from usage's %r"
                                     % (page, name, synopsis))

    def test_exit_statuses_match_usage(self):
        for program, page in PAGES.items():
            with self.subTest(page=page):
                wanted = usage_exit_statuses(self.usage[program])
                self.assertTrue(wanted, "%s --help names no exit status" % program)
                found = {tag for depth, tag in entries(self.page_sections(program)["EXIT STATUS"])
                         if depth == 0}
                self.assertEqual(found, wanted, "%s: EXIT STATUS differs from usage" % page)

    def test_environment_matches_usage(self):
        for program, page in PAGES.items():
            wanted = usage_environment(self.usage[program])
            if not wanted:
                continue
            with self.subTest(page=page):
                found = {tag for depth, tag in entries(self.page_sections(program)["ENVIRONMENT"])}
                self.assertEqual(wanted - found, set(),
                                 "%s: ENVIRONMENT lacks variables usage names" % page)


class ConfigurationPage(unittest.TestCase):
    """carehubd.conf(5) against docs/configuration.md."""

    def test_every_documented_key_has_an_entry(self):
        lines = read_page(CONF_PAGE)
        everywhere = {term for _, tag in entries(lines) for term in tag_terms(tag)}
        by_subsection = {}
        for _, section in split_headed(lines, "SH"):
            for title, body in split_headed(section, "SS"):
                first_word = re.match(r"[A-Za-z_]*", title).group(0).lower()
                by_subsection.setdefault(first_word, set()).update(
                    term for _, tag in entries(body) for term in tag_terms(tag))
        tables = markdown_key_tables(os.path.join(DOCS_DIR, "configuration.md"))
        self.assertGreaterEqual(len(tables), 8, "the key tables of configuration.md not found")
        count = 0
        for context, keys in tables:
            # A table holding a dotted key lists whole paths; the others list the
            # keys of one kind of group, which the page lists under a .SS of that name.
            whole_paths = any("." in key for key in keys)
            for key in keys:
                count += 1
                with self.subTest(key=key, context=context):
                    if whole_paths:
                        self.assertTrue(key in everywhere, "%s has no entry for %s"
                                        % (CONF_PAGE, key))
                    else:
                        self.assertTrue(context in by_subsection,
                                        "%s has no subsection (.SS) starting \"%s\""
                                        % (CONF_PAGE, context))
                        self.assertTrue(key in by_subsection[context],
                                        "%s has no entry for %s under the .SS starting %s"
                                        % (CONF_PAGE, key, context))
        self.assertGreater(count, 60)

    def test_every_dotted_entry_is_a_documented_key(self):
        documented = {key for _, keys in
                      markdown_key_tables(os.path.join(DOCS_DIR, "configuration.md"))
                      for key in keys}
        lines = read_page(CONF_PAGE)
        for _, tag in entries(lines):
            for term in tag_terms(tag):
                if re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", term):
                    with self.subTest(term=term):
                        self.assertTrue(term in documented,
                                        "%s documents %s, which configuration.md has not"
                                        % (CONF_PAGE, term))


class NotifyConfiguration(unittest.TestCase):
    """carehub-notify(1) against docs/notify.md's configuration reference."""

    def test_every_documented_key_has_an_entry(self):
        page = PAGES["carehub-notify"]
        documented = [key for _, keys in
                      markdown_key_tables(os.path.join(DOCS_DIR, "notify.md"))
                      for key in keys]
        self.assertGreater(len(documented), 20, "notify.md's key table not found")
        terms = {term for _, tag in entries(read_page(page)) for term in tag_terms(tag)}
        missing = [key for key in documented if key not in terms]
        self.assertEqual(missing, [], "%s lacks entries for %s" % (page, missing))


class Rendering(unittest.TestCase):
    """man renders every page without a warning."""

    def test_no_warnings(self):
        if shutil.which("man") is None:
            self.skipTest("man is not installed (Debian packages man-db and groff-base): "
                          "the pages' rendering is not checked")
        for page in list(PAGES.values()) + [CONF_PAGE]:
            with self.subTest(page=page):
                rc, stderr = render_warnings(os.path.join(MAN_DIR, page))
                self.assertEqual(stderr, "", "man --warnings -l man/%s warns" % page)
                self.assertEqual(rc, 0, "man -l man/%s failed" % page)


if __name__ == "__main__":
    unittest.main(verbosity=2)
