#!/usr/bin/env python3
"""readme_retry.py - the docs' statements of the task retry backoff (the
"Retries" and "Retryable failures" bullets of docs/scheduling.md and
docs/operations.md, the backoff paragraph of runners/README.md, wherever in
README.md and docs/*.md they are) say the base and the cap that lib/base/config.c
sets by default (retry_base_ms, retry_cap_ms). Issue 18 item 14: one bullet
said 15 min, the other 5 min; issue 20: the runners' guide said 5 min."""
import glob
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from tftest import Report  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
UNIT_MS = {'ms': 1, 's': 1000, 'min': 60000, 'm': 60000, 'h': 3600000}


def config_default_ms(src, field):
    """The default lib/base/config.c assigns to cfg->field: a product of numbers."""
    m = re.search(r'cfg->%s\s*=\s*([\d\s*]+);' % field, src)
    if m is None:
        return None
    v = 1
    for f in m.group(1).split('*'):
        v *= int(f)
    return v


def bullets(text):
    """A Markdown text's list items and paragraphs, each joined into one
    line."""
    out, cur = [], None
    for line in text.split('\n'):
        if re.match(r'\s*- ', line) or (cur is None and line.strip()):
            if cur is not None:
                out.append(cur)
            cur = line.strip()
        elif cur is not None and line.strip() and not line.startswith('#'):
            cur += ' ' + line.strip()
        else:
            if cur is not None:
                out.append(cur)
            cur = None
    if cur is not None:
        out.append(cur)
    return out


def stated_ms(bullet, patterns):
    """Every duration the bullet states in one of patterns (NUMBER, UNIT)."""
    found = []
    for p in patterns:
        for n, unit in re.findall(p, bullet):
            found.append(int(n) * UNIT_MS[unit])
    return found


def design_statement(r, src):
    """docs/design.md, the contract, states the backoff too: the same base
    and cap, and full jitter."""
    base, cap = config_default_ms(src, 'retry_base_ms'), config_default_ms(src, 'retry_cap_ms')
    unit = r'(\d+)\s*(ms|s|min|minutes?|h)\b'

    def ms(n, u):
        return int(n) * UNIT_MS[{'minute': 'min', 'minutes': 'min'}.get(u, u)]

    design = ' '.join(open(os.path.join(ROOT, 'docs', 'design.md'), encoding='utf-8').read().split())
    b = re.search(r'`TASKFLEET_RETRY_BASE`\s*\(default\s+' + unit, design)
    c = re.search(r'`TASKFLEET_RETRY_CAP`,\s*default\s+' + unit, design)
    said = (ms(*b.group(1, 2)) if b else None, ms(*c.group(1, 2)) if c else None)
    r.check('design_matches_config', said == (base, cap) and 'full jitter' in design,
            'docs/design.md states base and cap %s ms and full jitter; lib/base/config.c: '
            'base %s ms, cap %s ms' % (said, base, cap))


def main():
    r = Report('readme_retry')
    src = open(os.path.join(ROOT, 'lib', 'base', 'config.c'), encoding='utf-8').read()
    docs = [os.path.join(ROOT, 'README.md'), os.path.join(ROOT, 'runners', 'README.md')]
    docs += sorted(glob.glob(os.path.join(ROOT, 'docs', '*.md')))
    retry = [b for d in docs for b in bullets(open(d, encoding='utf-8').read())
             if re.search(r'retryable failure|After `TF_RUN_RETRY`', b, re.I)]
    for name, field, patterns in [
        ('cap', 'retry_cap_ms', [r'capped\s+at\s+(\d+)\s*(ms|s|min|h)\b',
                                 r'`TASKFLEET_RETRY_CAP`\s+default\s+(\d+)\s*(ms|s|m|h)\b',
                                 r'2\^\(n-1\),\s*(\d+)\s*(ms|s|min|h)\)']),
        ('base', 'retry_base_ms', [r'(\d+)\s*(ms|s|min)\s+doubling',
                                   r'`TASKFLEET_RETRY_BASE`\s+default\s+(\d+)\s*(ms|s|m|h)\b',
                                   r'min\((\d+)\s*(ms|s|min)\s*×\s*2\^']),
    ]:
        want = config_default_ms(src, field)
        said = [(b, stated_ms(b, patterns)) for b in retry]
        said = [(b, s) for b, s in said if s]
        wrong = ['%r... says %s ms' % (b[:50], s) for b, s in said if set(s) != {want}]
        # Three places state it today: finding fewer means the patterns broke.
        r.check('%s_matches_config' % name, want is not None and len(said) >= 3 and not wrong,
                'lib/base/config.c: %s ms; %d places in the docs state it; %s' % (want, len(said), '; '.join(wrong)))
    design_statement(r, src)
    sys.exit(1 if r.failed else 0)


main()
