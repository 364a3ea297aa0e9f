#!/usr/bin/env python3
"""readme_retry.py - the README's statements of the task retry backoff (the
"Retries" and "Retryable failures" bullets) say the base and the cap that
lib/config.c sets by default (retry_base_ms, retry_cap_ms). Issue 18 item 14:
one bullet said 15 min, the other 5 min. So do runners/README.md and
docs/design.md (issue 20)."""
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from tftest import Report  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
UNIT_MS = {'ms': 1, 's': 1000, 'min': 60000, 'm': 60000, 'h': 3600000}


def config_default_ms(src, field):
    """The default lib/config.c assigns to cfg->field: a product of numbers."""
    m = re.search(r'cfg->%s\s*=\s*([\d\s*]+);' % field, src)
    if m is None:
        return None
    v = 1
    for f in m.group(1).split('*'):
        v *= int(f)
    return v


def bullets(text):
    """The README's list items, each joined into one line."""
    out, cur = [], None
    for line in text.split('\n'):
        if re.match(r'\s*- ', line):
            if cur is not None:
                out.append(cur)
            cur = line.strip()
        elif cur is not None and line.startswith('  ') and line.strip():
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


def main():
    r = Report('readme_retry')
    src = open(os.path.join(ROOT, 'lib', 'config.c'), encoding='utf-8').read()
    readme = open(os.path.join(ROOT, 'README.md'), encoding='utf-8').read()
    retry = [b for b in bullets(readme) if re.search(r'retryable failure', b, re.I)]
    for name, field, patterns in [
        ('cap', 'retry_cap_ms', [r'capped\s+at\s+(\d+)\s*(ms|s|min|h)\b',
                                 r'`TASKFLEET_RETRY_CAP`\s+default\s+(\d+)\s*(ms|s|m|h)\b']),
        ('base', 'retry_base_ms', [r'(\d+)\s*(ms|s|min)\s+doubling',
                                   r'`TASKFLEET_RETRY_BASE`\s+default\s+(\d+)\s*(ms|s|m|h)\b']),
    ]:
        want = config_default_ms(src, field)
        said = [(b, stated_ms(b, patterns)) for b in retry]
        said = [(b, s) for b, s in said if s]
        wrong = ['%r... says %s ms' % (b[:50], s) for b, s in said if set(s) != {want}]
        # Both bullets state it today: finding fewer means the patterns broke.
        r.check('%s_matches_config' % name, want is not None and len(said) >= 2 and not wrong,
                'lib/config.c: %s ms; %d README.md bullets state it; %s' % (want, len(said), '; '.join(wrong)))
    other_statements(r, src)
    sys.exit(1 if r.failed else 0)


def other_statements(r, src):
    """The runner authors' guide and the design contract state the backoff
    too: the same base and cap, and full jitter (issue 20: the guide said
    5 min, drawn from half the delay)."""
    base, cap = config_default_ms(src, 'retry_base_ms'), config_default_ms(src, 'retry_cap_ms')
    unit = r'(\d+)\s*(ms|s|min|minutes?|h)\b'

    def ms(n, u):
        return int(n) * UNIT_MS[{'minute': 'min', 'minutes': 'min'}.get(u, u)]

    guide = ' '.join(open(os.path.join(ROOT, 'runners', 'README.md'), encoding='utf-8').read().split())
    m = re.search(r'min\(\s*' + unit + r'\s*×\s*2\^\(n-1\),\s*' + unit + r'\)', guide)
    said = (ms(*m.group(1, 2)), ms(*m.group(3, 4))) if m else None
    r.check('runners_readme_matches_config', said == (base, cap) and
            'between 0 and that' in guide and 'half of that' not in guide,
            'runners/README.md states min(base x 2^(n-1), cap) = %s ms and full jitter '
            '("between 0 and that"); lib/config.c: base %s ms, cap %s ms' % (said, base, cap))
    design = ' '.join(open(os.path.join(ROOT, 'docs', 'design.md'), encoding='utf-8').read().split())
    b = re.search(r'`TASKFLEET_RETRY_BASE`\s*\(default\s+' + unit, design)
    c = re.search(r'`TASKFLEET_RETRY_CAP`,\s*default\s+' + unit, design)
    said = (ms(*b.group(1, 2)) if b else None, ms(*c.group(1, 2)) if c else None)
    r.check('design_matches_config', said == (base, cap) and 'full jitter' in design,
            'docs/design.md states base and cap %s ms and full jitter; lib/config.c: '
            'base %s ms, cap %s ms' % (said, base, cap))


main()
