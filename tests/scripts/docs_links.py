#!/usr/bin/env python3
"""docs_links.py - every relative link in the project's Markdown files
resolves: the file or folder it names exists inside the project, and a
`#anchor` (alone, or after a .md file) matches a heading of that file by
GitHub's slug rules. Links that leave the project, and any mention of the
shared folder, fail. One check per Markdown file (README.md, docs/*.md,
runners/README.md, bench/README.md, tests/fault/README.md and every other
.md of the tree outside build output, dependencies and test output), named
after the file, and three checks that the checker itself catches a broken
link, a broken anchor and a link to the shared folder (issue 20: a newcomer meets no dead link), and
one that README.md stays a landing page of at most 300 lines. The
benchmark results, bench/results/*.md, make one check together.
"""
import os
import re
import shutil
import sys
import tempfile
import unicodedata
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from tftest import Report  # noqa: E402

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
# Folders that hold no project documentation: version control, build output,
# npm packages, test output, the stand-ins' state.
SKIP_DIRS = {'.git', 'node_modules', '.state'}
SKIP_PATHS = {os.path.join('tests', 'out')}

FENCE = re.compile(r'^ {0,3}(`{3,}|~{3,})')
HEADING = re.compile(r'^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$')
LINK = re.compile(r'!?\[((?:[^\[\]\\]|\\.|\[[^\]]*\])*)\]\(\s*(<[^>\n]*>|[^\s)]*(?:\([^)\s]*\)[^\s)]*)*)'
                  r'(?:\s+(?:"[^"]*"|\'[^\']*\'))?\s*\)')
REFDEF = re.compile(r'^ {0,3}\[[^\]]+\]:\s*(<[^>\n]*>|\S+)', re.M)
HTML_ID = re.compile(r'<a\s[^>]*(?:name|id)\s*=\s*"([^"]+)"', re.I)
# A path into the shared folder the project was written from (a link to it
# is also caught as leaving the project).
README_MAX_LINES = 300
RESULTS_DIR = os.path.join('bench', 'results')
SHARED = re.compile(r'(?:\.\./|/work/)shared\b')


def markdown_files(root):
    """Every .md file under root, as paths relative to it, sorted."""
    out = []
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs[:] = sorted(x for x in dirs
                         if x not in SKIP_DIRS and not (rel == '.' and x.startswith('build'))
                         and os.path.normpath(os.path.join(rel, x)) not in SKIP_PATHS)
        out += [os.path.normpath(os.path.join(rel, f)) for f in files if f.endswith('.md')]
    return sorted(out)


def blank(m):
    """The match replaced by spaces, its newlines kept (line numbers hold)."""
    return re.sub(r'[^\n]', ' ', m.group(0))


def prose(text):
    """text with fenced code blocks, inline code and HTML comments blanked
    out: what is left is where links and headings count."""
    lines, fence = [], None
    for line in text.split('\n'):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
            lines.append('')
        elif fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not line.strip().strip(fence[0]):
                fence = None
            lines.append('')
        else:
            lines.append(line)
    text = '\n'.join(lines)
    text = re.sub(r'<!--.*?-->', blank, text, flags=re.S)
    return re.sub(r'(`+)(?:(?!\n[ \t]*\n).)+?\1', blank, text, flags=re.S)


def slug(heading):
    """GitHub's anchor for a heading's text: inline markup dropped (code
    marks, emphasis, links keep their text), lower case, every character
    that is not a letter, digit, `_`, `-` or space removed, spaces to `-`."""
    t = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)
    t = re.sub(r'<[^>]+>', '', t)
    t = t.strip().lower()
    t = ''.join(c for c in t if c.isalnum() or c in '_- ' or unicodedata.category(c).startswith('M'))
    return t.replace(' ', '-')


def anchors(text):
    """The anchors of a Markdown text: its headings' slugs (a repeated slug
    gets -1, -2, ... as GitHub numbers them) and explicit <a name/id>."""
    seen, out = {}, set()
    cleaned = prose_keep_code_text(text)
    for line in cleaned.split('\n'):
        m = HEADING.match(line)
        if not m:
            continue
        s = slug(m.group(2))
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else '%s-%d' % (s, n))
    out.update(HTML_ID.findall(text))
    return out


def prose_keep_code_text(text):
    """text without fenced code blocks and HTML comments, inline code kept
    (a heading's `code` is part of its anchor)."""
    lines, fence = [], None
    for line in text.split('\n'):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
        elif fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not line.strip().strip(fence[0]):
                fence = None
        else:
            lines.append(line)
    return re.sub(r'<!--.*?-->', '', '\n'.join(lines), flags=re.S)


def check_file(root, rel, cache):
    """The problems of one Markdown file: a list of "line N: why"."""
    path = os.path.join(root, rel)
    text = open(path, encoding='utf-8').read()
    problems = []
    for m in SHARED.finditer(text):
        problems.append('line %d: mentions the shared folder (%r)' % (text.count('\n', 0, m.start()) + 1, m.group(0)))
    body = prose(text)
    targets = [(m.start(2), m.group(2)) for m in LINK.finditer(body)]
    targets += [(m.start(1), m.group(1)) for m in REFDEF.finditer(body)]
    for pos, dest in targets:
        line = body.count('\n', 0, pos) + 1
        dest = dest.strip('<>')
        if not dest or re.match(r'[A-Za-z][A-Za-z0-9+.-]*:', dest):
            continue  # empty, or a URL with a scheme (https:, mailto:): not checked here
        target, _, frag = dest.partition('#')
        target = urllib.parse.unquote(target)
        if target == '':
            tpath = path
        elif target.startswith('/'):
            tpath = os.path.join(root, target.lstrip('/'))
        else:
            tpath = os.path.join(os.path.dirname(path), target)
        tpath = os.path.realpath(tpath)
        if tpath != root and not tpath.startswith(root + os.sep):
            problems.append('line %d: %s leaves the project' % (line, dest))
            continue
        if not os.path.exists(tpath):
            problems.append('line %d: %s: no such file' % (line, dest))
            continue
        if frag == '':
            continue
        if not tpath.endswith('.md') or not os.path.isfile(tpath):
            problems.append('line %d: %s: an anchor into a file that is not Markdown' % (line, dest))
            continue
        if tpath not in cache:
            cache[tpath] = anchors(open(tpath, encoding='utf-8').read())
        if urllib.parse.unquote(frag).lower() not in cache[tpath]:
            problems.append('line %d: %s: no heading with anchor #%s in %s'
                            % (line, dest, frag, os.path.relpath(tpath, root)))
    return problems


def selftest(r):
    """The checker fails a broken link, a broken anchor and a link to the
    shared folder, and passes their fixed versions, in a scratch tree."""
    tmp = tempfile.mkdtemp(prefix='tf-docs-links-')
    try:
        os.mkdir(os.path.join(tmp, 'docs'))
        with open(os.path.join(tmp, 'docs', 'a.md'), 'w') as f:
            f.write('# A page\n\n## The `two` commands: here\n\n```sh\n# not a heading\n```\n')
        cases = {
            'broken_link': ('[b](docs/b.md)', '[a](docs/a.md)'),
            'broken_anchor': ('[a](docs/a.md#not-a-heading)', '[a](docs/a.md#the-two-commands-here)'),
            'shared_folder': ('[the spec](../shared/SPEC.md)', '[a](docs/a.md#a-page)'),
        }
        for name, (bad, good) in cases.items():
            verdicts = []
            for text in (bad, good):
                with open(os.path.join(tmp, 'README.md'), 'w') as f:
                    f.write('# x\n\nSee %s.\n' % text)
                verdicts.append(check_file(os.path.realpath(tmp), 'README.md', {}))
            r.check('selftest_catches_%s' % name, verdicts[0] and not verdicts[1],
                    '%s gave %s; %s gave %s' % (bad, verdicts[0] or 'no problem', good, verdicts[1]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    r = Report('docs_links')
    selftest(r)
    cache = {}
    files = markdown_files(ROOT)
    if 'README.md' not in files:
        r.setup_fail('no README.md under %s' % ROOT)
    # The benchmark results (bench/results/*.md, one more with every `make
    # bench`) are checked together, so the number of checks stays the same.
    results = [rel for rel in files if rel.startswith(RESULTS_DIR + os.sep)]
    for rel in files:
        if rel in results:
            continue
        problems = check_file(ROOT, rel, cache)
        r.check(rel, not problems, '; '.join(problems))
    problems = ['%s: %s' % (rel, p) for rel in results for p in check_file(ROOT, rel, cache)]
    r.check(RESULTS_DIR + '/*.md', not problems, '; '.join(problems))
    # The README is a landing page; the rest lives in docs/ (issue 20).
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        lines = sum(1 for _ in f)
    r.check('readme_is_a_landing_page', lines <= README_MAX_LINES,
            'README.md has %d lines, at most %d: move the rest to a page under docs/' %
            (lines, README_MAX_LINES))
    sys.exit(1 if r.failed else 0)


main()
