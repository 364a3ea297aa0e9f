#!/usr/bin/env python3
"""docs_layout.py - the layout table of docs/building.md matches the tree
(issue 20: lib/ in rooms by concern, and the docs' table says which room
holds what). Checks:

  paths_exist          every path the table names exists
  top_dirs_listed      every top-level folder of the project has a row
  lib_rooms_listed     every folder of lib/ has a row of its own
  lib_modules_named    each lib/ROOM row names exactly the modules of that
                       room (the .c/.h names in backquotes, without suffix)
  unit_tests_mirror    tests/unit/ has the same rooms as lib/ (plus the
                       consumer's and producer's), and each test_NAME.c sits
                       in the room of the module NAME
"""
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from tftest import Report  # noqa: E402

ROOT = os.environ.get('TF_LAYOUT_ROOT') or os.path.realpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
ROW = re.compile(r'^\|\s*`([^`]+)`\s*\|(.*)\|\s*$')


def table():
    """{path: description} of the rows of the Layout section."""
    text = open(os.path.join(ROOT, 'docs', 'building.md'), encoding='utf-8').read()
    m = re.search(r'^## Layout\n(.*?)(?=^## |\Z)', text, re.M | re.S)
    rows = {}
    for line in (m.group(1).splitlines() if m else []):
        r = ROW.match(line)
        if r:
            rows[r.group(1)] = r.group(2)
    return rows


def tracked_dirs():
    """The project's folders that hold tracked files (a fresh clone's tree)."""
    out = subprocess.run(['git', '-C', ROOT, 'ls-files'], capture_output=True,
                         text=True, check=True).stdout.split('\n')
    return {p.split('/')[0] for p in out if '/' in p and not p.startswith('.')}


def main():
    r = Report('docs_layout')
    rows = table()
    missing = [p for p in rows if not os.path.exists(os.path.join(ROOT, p))]
    r.check('paths_exist', rows and not missing,
            '%d rows; paths that do not exist: %s' % (len(rows), missing))
    tops = sorted(d for d in tracked_dirs() if not any(p.startswith(d + '/') for p in rows))
    r.check('top_dirs_listed', not tops, 'top-level folders without a row: %s' % tops)
    libdir = os.path.join(ROOT, 'lib')
    rooms = sorted(d for d in os.listdir(libdir) if os.path.isdir(os.path.join(libdir, d)))
    flat = sorted(f for f in os.listdir(libdir) if f.endswith(('.c', '.h')))
    unlisted = [d for d in rooms if 'lib/%s/' % d not in rows]
    r.check('lib_rooms_listed', rooms and not unlisted and not flat,
            'rooms %s; without a row: %s; files left flat in lib/: %s' % (rooms, unlisted, flat))
    wrong = []
    for d in rooms:
        have = {os.path.splitext(f)[0] for f in os.listdir(os.path.join(libdir, d))
                if f.endswith(('.c', '.h'))}
        named = set(re.findall(r'`([a-z0-9_]+)`', rows.get('lib/%s/' % d, '')))
        if have != named:
            wrong.append('lib/%s/: not named %s, named but absent %s' %
                         (d, sorted(have - named), sorted(named - have)))
    r.check('lib_modules_named', rooms and not wrong, '; '.join(wrong))
    where = {}
    for d in rooms:
        for f in os.listdir(os.path.join(libdir, d)):
            where[os.path.splitext(f)[0]] = d
    # A runner's own file runners/R/F.c is module R_F, tested in runners/.
    for runner in sorted(os.listdir(os.path.join(ROOT, 'runners'))):
        rdir = os.path.join(ROOT, 'runners', runner)
        if os.path.isdir(rdir):
            for f in os.listdir(rdir):
                if f.endswith('.c'):
                    where.setdefault('%s_%s' % (runner, os.path.splitext(f)[0]), 'runners')
    for d in ('consumer', 'producer'):
        for f in os.listdir(os.path.join(ROOT, d)):
            if f.endswith('.c'):
                where.setdefault(os.path.splitext(f)[0], d)
    unit = os.path.join(ROOT, 'tests', 'unit')
    misplaced = []
    for top, _, names in os.walk(unit):
        for f in names:
            if not (f.startswith('test_') and f.endswith('.c')):
                continue
            room = os.path.relpath(top, unit)
            want = where.get(f[len('test_'):-2])
            if room != want:
                misplaced.append('%s in %s, its module in %s' % (f, room, want))
    r.check('unit_tests_mirror', not misplaced, '; '.join(misplaced))
    sys.exit(1 if r.failed else 0)


main()
