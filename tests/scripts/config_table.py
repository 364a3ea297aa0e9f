#!/usr/bin/env python3
"""config_table.py - docs/configuration.md lists every setting, and only those
(issue 20 item 3).

"The code" is what users run: the C sources of the consumer, the CLI, the
library and the runners we ship (lib/, consumer/, producer/, runners/,
include/), and the scripts and deployment files under scripts/ and infra/.

- A variable the C code reads is a string literal that is the whole name
  (after adjacent literals are joined, as the compiler does): getenv("X")
  and every wrapper around it (lib/base/config.c's lists and duration_env(),
  cmd_serve.c's parse_rate_env(), the http runner's config_string()) take
  the name as such a literal. A literal that is a prefix ending in "_"
  (TASKFLEET_RUNNER_CONFIG_) stands for the family "PREFIX<NAME>". A
  script reads $X or ${X...}, a stand-in (or its patch) process.env.X.
- Every TASKFLEET_* and AWS_* name the code reads or mentions (in a message,
  a help text, a script or a deployment file: TASKFLEET_* there) must be a
  row of the settings table; every variable of the table must be read by the
  code (C, a script, or the test and build commands: tests/run, Makefile,
  tests/mutants/run).
- Every --flag that taskfleet-consumer --help prints is a consumer flag of
  the table and the reverse; likewise `taskfleet --help` and each command's
  --help (found from the help's command list, dlq's sub-commands from its
  help) against the table's CLI flags and the command's own section.
TF_* switches of the tests are out of scope (they are not TASKFLEET_*),
except the rows the page has for the ones users type, which must be read.
"""
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from tftest import Report  # noqa: E402

ROOT = os.path.abspath(os.environ.get('TF_ROOT') or
                       os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
BUILD = os.environ.get('TF_BUILD') or os.path.join(ROOT, 'build')
DOC = os.environ.get('TF_CONFIG_DOC') or os.path.join(ROOT, 'docs', 'configuration.md')
C_DIRS = ['lib', 'consumer', 'producer', 'runners', 'include']
SCRIPT_DIRS = ['scripts', 'infra']
SKIP_DIRS = {'node_modules', '.state', '.terraform'}
CHECKED = re.compile(r'(?:TASKFLEET|AWS)_[A-Z0-9_]*[A-Z0-9]')
FLAG = re.compile(r'(?<![\w-])--[a-z][a-z0-9-]*')


def files_under(dirs, keep):
    for d in dirs:
        for top, subdirs, names in os.walk(os.path.join(ROOT, d)):
            subdirs[:] = sorted(s for s in subdirs if s not in SKIP_DIRS)
            for n in sorted(names):
                if keep(n):
                    yield os.path.join(top, n)


def read(path):
    with open(path, encoding='utf-8', errors='replace') as f:
        return f.read()


def c_literals(src):
    """The string literals of C source, comments dropped and adjacent
    literals joined (escapes are kept as written: names have none)."""
    out, i, n = [], 0, len(src)
    pending = None          # a literal that the next one may continue
    while i < n:
        c = src[i]
        if src.startswith('/*', i):
            i = src.find('*/', i + 2)
            i = n if i < 0 else i + 2
        elif src.startswith('//', i):
            i = src.find('\n', i)
            i = n if i < 0 else i
        elif c == "'":
            j = i + 1
            while j < n and src[j] != "'":
                j += 2 if src[j] == '\\' else 1
            i = j + 1
            if pending is not None:
                out.append(pending)
                pending = None
        elif c == '"':
            j, buf = i + 1, []
            while j < n and src[j] != '"':
                if src[j] == '\\':
                    buf.append(src[j:j + 2])
                    j += 2
                else:
                    buf.append(src[j])
                    j += 1
            text = ''.join(buf)
            pending = text if pending is None else pending + text
            i = j + 1
        elif c.isspace():
            i += 1
        else:
            if pending is not None:
                out.append(pending)
                pending = None
            i += 1
    if pending is not None:
        out.append(pending)
    return out


def named(text):
    """The TASKFLEET_* and AWS_* names in text; one ending in "_" is the
    prefix of a family, "PREFIX<NAME>"."""
    for m in re.finditer(r'(?:TASKFLEET|AWS)_[A-Z0-9][A-Z0-9_]*', text):
        name = m.group(0)
        yield name + '<NAME>' if name.endswith('_') else name


def code_names():
    """(read, mentioned): variable name -> where, for the C code and the
    scripts and deployment files."""
    reads, mentions = {}, {}
    for path in files_under(C_DIRS, lambda n: n.endswith(('.c', '.h'))):
        rel = os.path.relpath(path, ROOT)
        for lit in c_literals(read(path)):
            if re.fullmatch(r'[A-Z][A-Z0-9_]*[A-Z0-9]', lit):
                reads.setdefault(lit, rel)
            elif re.fullmatch(r'(?:TASKFLEET|AWS)_[A-Z0-9_]*_', lit):
                reads.setdefault(lit + '<NAME>', rel)
            for name in named(lit):
                mentions.setdefault(name, rel)
    for path in files_under(SCRIPT_DIRS, lambda n: not n.endswith(('.json', '.png'))):
        rel = os.path.relpath(path, ROOT)
        text = read(path)
        for m in re.finditer(r'\$\{?([A-Z][A-Z0-9_]*)|process\.env\.([A-Z][A-Z0-9_]*)', text):
            reads.setdefault(m.group(1) or m.group(2), rel)
        for name in named(text):
            if name.startswith('TASKFLEET_'):
                mentions.setdefault(name, rel)
    # What the test and build commands read: $X, ${X, $(X) (make) and
    # os.environ.get("X") (Python).
    for rel in ['tests/run', 'Makefile', 'tests/mutants/run']:
        for m in re.finditer(r'\$[({]?([A-Z][A-Z0-9_]*)|environ\.get\("([A-Z][A-Z0-9_]*)"',
                             read(os.path.join(ROOT, rel))):
            reads.setdefault(m.group(1) or m.group(2), rel)
    # A variable read counts as mentioned; the family stands for its members.
    for k, v in reads.items():
        if CHECKED.match(k):
            mentions.setdefault(k, v)
    return reads, mentions


def tables(doc):
    """(heading, header cells, rows of cells) for each Markdown table."""
    out, heading, lines = [], '', doc.split('\n')
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith('#'):
            heading = line.lstrip('#').strip()
        if line.startswith('|') and i + 1 < len(lines) and re.match(r'\|\s*-', lines[i + 1]):
            header = cells(line)
            rows, i = [], i + 2
            while i < len(lines) and lines[i].startswith('|'):
                rows.append(cells(lines[i]))
                i += 1
            out.append((heading, header, rows))
            continue
        i += 1
    return out


def cells(line):
    parts = re.split(r'(?<!\\)\|', line.strip())
    return [p.strip() for p in parts[1:-1]]


def doc_settings(doc):
    """variable -> row, and program ('consumer', 'CLI') -> flags, from the
    settings table (the one whose header starts with "variable")."""
    variables, flags = {}, {'consumer': set(), 'CLI': set()}
    for _, header, rows in tables(doc):
        if not header or header[0] != 'variable':
            continue
        col = {h: k for k, h in enumerate(header)}
        for row in rows:
            for name in re.findall(r'`([A-Za-z][A-Za-z0-9_<>]*)`', row[col['variable']]):
                variables[name] = row
            by = row[col['read by']]
            for prog in flags:
                if re.search(r'\b%s\b' % prog, by):
                    flags[prog] |= set(FLAG.findall(row[col['flag']]))
    return variables, flags


def doc_commands(doc):
    """'submit' / 'dlq list' -> the flags in the first column of its
    section's table; the section of several commands (### `taskfleet get`,
    `delete`, ...) gives them to each."""
    out, heading = {}, None
    for line in doc.split('\n'):
        m = re.match(r'###\s+`taskfleet ([a-z-]+(?: [a-z-]+)?)`(.*)', line)
        if m:
            heading = [m.group(1)] + re.findall(r'`([a-z-]+)`', m.group(2))
            for h in heading:
                out.setdefault(h, set())
            continue
        if line.startswith('#'):
            heading = None
        elif heading is not None and line.startswith('|') and not re.match(r'\|\s*(-|flag\b)', line):
            for h in heading:
                out[h] |= set(FLAG.findall(cells(line)[0]))
    return out


def help_text(*argv):
    p = subprocess.run(list(argv) + ['--help'], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    return p.stdout.decode('utf-8', 'replace')


def main():
    r = Report('config_table')
    try:
        doc = read(DOC)
    except OSError as e:
        r.setup_fail('cannot read %s: %s' % (DOC, e))
    reads, mentions = code_names()
    variables, flags = doc_settings(doc)

    missing = sorted('%s (%s)' % (k, v) for k, v in mentions.items() if k not in variables)
    r.check('every_variable_read_is_listed', not missing,
            'the code reads or names these, docs/configuration.md lacks them: %s'
            % ', '.join(missing))

    unread = sorted(k for k in variables if k not in reads)
    r.check('every_listed_variable_is_read', not unread,
            'docs/configuration.md lists these, no code reads them: %s' % ', '.join(unread))

    consumer = os.path.join(BUILD, 'bin', 'taskfleet-consumer')
    printed = set(FLAG.findall(help_text(consumer)))
    r.check('consumer_flags', printed == flags['consumer'] and printed,
            'printed by --help, not in the doc: %s; in the doc, not printed: %s'
            % (sorted(printed - flags['consumer']), sorted(flags['consumer'] - printed)))

    cli = os.path.join(BUILD, 'bin', 'taskfleet')
    top = help_text(cli)
    why = []
    printed = set(FLAG.findall(top))
    if not printed or printed != flags['CLI']:
        why.append('taskfleet --help: printed, not in the doc: %s; in the doc, not printed: %s'
                   % (sorted(printed - flags['CLI']), sorted(flags['CLI'] - printed)))
    sections = doc_commands(doc)
    commands = re.findall(r'^  ([a-z][a-z-]+)\s{2,}\S', top.split('commands:', 1)[-1], re.M)
    seen = set()
    for cmd in commands:
        text = help_text(cli, cmd)
        subs = sorted(set(re.findall(r'taskfleet %s ([a-z-]+) --help' % re.escape(cmd), text)))
        for name, words in ([('%s %s' % (cmd, s), [cmd, s]) for s in subs] or [(cmd, [cmd])]):
            seen.add(name)
            if subs:
                text = help_text(cli, *words)
            printed = set(FLAG.findall(text)) - {'--help'}
            documented = sections.get(name)
            if documented is None:
                why.append('taskfleet %s: no section in the doc' % name)
            elif printed != documented:
                why.append('taskfleet %s --help: printed, not in its section: %s; '
                           'in its section, not printed: %s'
                           % (name, sorted(printed - documented), sorted(documented - printed)))
    if len(commands) < 10:
        why.append('found only %d commands in taskfleet --help' % len(commands))
    stale = sorted(set(sections) - seen)
    if stale:
        why.append('sections for commands taskfleet --help does not list: %s' % stale)
    r.check('cli_flags', not why, '; '.join(why))
    sys.exit(1 if r.failed else 0)


main()
