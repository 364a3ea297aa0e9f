#!/usr/bin/env python3
"""infra_docker.py - checks infra/docker without a Docker engine: two
Dockerfile linters from npm (dockerfile-utils, the validator behind the VS
Code Docker extension, and dockerfilelint; hadolint is not packaged for
Debian 12), the structure issue 8 asks for (multi-stage, slim Debian base,
non-root user, runners shipped, health check), the image's build commands
against docs/building.md's "Building by hand", the runtime packages against the
libraries the built binaries need (readelf + dpkg), the COPY paths against a
real `make install`, and the health check script against HTTP servers on
127.0.0.1 and, when the consumer has --metrics-listen, against the consumer."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'infra'))
from common import ROOT, BUILD, HERE, NODE, result, finish, ensure_npm, install_tree, consumer_options  # noqa: E402

D = os.path.join(ROOT, 'infra', 'docker')
DOCKERFILE = os.path.join(D, 'Dockerfile')
HEALTH = os.path.join(D, 'healthcheck')

PARSE_JS = r'''
const { DockerfileParser } = require('dockerfile-ast');
const text = require('fs').readFileSync(process.argv[1], 'utf8');
const df = DockerfileParser.parse(text);
const out = { args: df.getInitialARGs().map((a) => a.getProperty() ? [a.getProperty().getName(), a.getProperty().getValue()] : null),
  stages: df.getFROMs().map((f) => ({ image: f.getImage(), name: f.getBuildStage(), line: f.getRange().start.line })),
  instructions: df.getInstructions().map((i) => ({ keyword: i.getKeyword(), args: i.getArgumentsContent(), line: i.getRange().start.line,
    flags: (i.getFlags ? i.getFlags() : []).map((f) => [f.getName(), f.getValue()]) })) };
process.stdout.write(JSON.stringify(out));
'''
LINT_JS = r'''
const text = require('fs').readFileSync(process.argv[1], 'utf8');
const diags = require('dockerfile-utils').validate(text, {});
process.stdout.write(JSON.stringify(diags.map((d) => `line ${d.range.start.line + 1}: ${d.message}`)));
'''


def node(script, path):
    p = subprocess.run([NODE, '-e', script, path], cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-500:])
    return json.loads(p.stdout)


def dockerfilelint(path):
    p = subprocess.run([NODE, os.path.join(HERE, 'node_modules', 'dockerfilelint', 'bin', 'dockerfilelint'), '-o', 'json', path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    j = json.loads(p.stdout)
    return ['line %s: %s' % (i['line'], i['title']) for f in j['files'] for i in f['issues']]


def stages(parsed):
    """Instructions grouped by stage (a FROM starts one)."""
    out = []
    for ins in parsed['instructions']:
        if ins['keyword'] == 'FROM':
            out.append([])
        if out:
            out[-1].append(ins)
    return out


def make_commands(run_args):
    cmds = []
    for part in re.split(r'&&|;|\n', run_args.replace('\\\n', ' ')):
        part = ' '.join(part.split())
        if part.startswith('make'):
            cmds.append(part)
    return cmds


def readme_build_commands():
    text = open(os.path.join(ROOT, 'docs', 'building.md')).read()
    sec = re.search(r'^## Building by hand\n(.*?)(?=^## )', text, re.M | re.S)
    if not sec:
        return None
    block = re.search(r'```sh\n(.*?)```', sec.group(1), re.S)
    cmds = []
    for line in block.group(1).splitlines():
        line = ' '.join(line.split('#')[0].split())
        words = line.split()
        # the lines that build (no target, no variables) and install
        if words[:1] == ['make'] and (len(words) == 1 or words[1] == 'install'):
            cmds.append(line)
    return cmds


def apt_packages(run_args):
    m = re.search(r'apt-get install ([^&;]*)', run_args.replace('\\\n', ' '))
    return [w for w in (m.group(1).split() if m else []) if not w.startswith('-')]


def build_matches_readme(parsed):
    build = stages(parsed)[0]
    got = [c for ins in build if ins['keyword'] == 'RUN' for c in make_commands(ins['args'])]
    want = readme_build_commands()
    return got == want, 'Dockerfile runs %s, docs/building.md builds with %s' % (got, want)


class Handler(BaseHTTPRequestHandler):
    status = 200
    paths = []

    def do_GET(self):  # noqa: N802
        Handler.paths.append(self.path)
        self.send_response(Handler.status)
        self.end_headers()
        try:
            self.wfile.write(b'ok\n')
        except OSError:
            pass    # the client stops reading after the status line

    def log_message(self, *a):
        pass


def run_health(addr, timeout=15):
    t0 = time.time()
    p = subprocess.run(['bash', HEALTH, addr], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return p.returncode, p.stdout.strip(), time.time() - t0


def check_healthcheck_script():
    if shutil.which('shellcheck'):
        p = subprocess.run(['shellcheck', HEALTH], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        result('healthcheck_shellcheck', p.returncode == 0, p.stdout[-600:])
    else:
        result('healthcheck_shellcheck', False, 'shellcheck is missing: install the Debian package shellcheck')
    srv = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    addr = '127.0.0.1:%d' % srv.server_address[1]
    try:
        Handler.status = 200
        rc, out, _ = run_health(addr)
        result('healthcheck_ok_on_200', rc == 0 and Handler.paths[-1:] == ['/healthz'], 'exit %d (%s), paths %s' % (rc, out, Handler.paths))
        Handler.status = 503
        rc, out, _ = run_health(addr)
        result('healthcheck_fails_on_503', rc == 1 and '503' in out, 'exit %d (%s)' % (rc, out))
    finally:
        srv.shutdown()
        srv.server_close()
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    closed = '127.0.0.1:%d' % s.getsockname()[1]
    s.close()
    rc, out, _ = run_health(closed)
    result('healthcheck_fails_when_nothing_listens', rc == 1, 'exit %d (%s)' % (rc, out))
    mute = socket.socket()
    mute.bind(('127.0.0.1', 0))
    mute.listen(1)
    try:
        rc, out, took = run_health('127.0.0.1:%d' % mute.getsockname()[1])
        result('healthcheck_fails_on_silence_in_time', rc == 1 and took < 10, 'exit %d after %.1f s (%s)' % (rc, took, out))
    finally:
        mute.close()


def check_real_consumer():
    """The script against the consumer's own /healthz, on the stand-ins."""
    if 'metrics-listen' not in consumer_options():
        result('healthcheck_against_consumer', False, 'taskfleet-consumer has no --metrics-listen yet (issue 8)')
        return
    if not os.environ.get('AWS_ENDPOINT_URL_SQS'):
        result('healthcheck_against_consumer', False, 'no stand-ins: run this through tests/run')
        return
    tname = 'infra-health-%d' % os.getpid()
    env = dict(os.environ, TASKFLEET_TABLE=tname, TASKFLEET_QUEUE=tname)
    p = subprocess.run([os.path.join(BUILD, 'bin', 'taskfleet'), 'init'], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    if not result('consumer_stack_init', p.returncode == 0, p.stdout[-400:]):
        return
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    log = open(os.path.join(os.environ.get('TF_TEST_OUT', tempfile.gettempdir()), 'infra_docker_consumer.log'), 'w')
    c = subprocess.Popen([os.path.join(BUILD, 'bin', 'taskfleet-consumer'), '--metrics-listen', '127.0.0.1:%d' % port],
                         env=env, stdout=log, stderr=log)
    try:
        rc, out = 1, ''
        deadline = time.time() + 20
        while time.time() < deadline and c.poll() is None:
            rc, out, _ = run_health('127.0.0.1:%d' % port)
            if rc == 0:
                break
            time.sleep(0.3)
        result('healthcheck_against_consumer', rc == 0, 'exit %d (%s); consumer %s' % (rc, out, 'exited %s' % c.poll() if c.poll() is not None else 'running'))
    finally:
        if c.poll() is None:
            c.send_signal(signal.SIGTERM)
            try:
                code = c.wait(timeout=60)
            except subprocess.TimeoutExpired:
                c.kill()
                code = c.wait()
            result('consumer_sigterm_exits_0', code == 0, 'exit status %s on SIGTERM' % code)
        log.close()


def main():
    why = ensure_npm()
    if not result('infra_npm_tools', why is None, why):
        return
    try:
        parsed = node(PARSE_JS, DOCKERFILE)
        diags = node(LINT_JS, DOCKERFILE)
    except RuntimeError as e:
        result('dockerfile_parses', False, e)
        return
    result('dockerfile_utils_validate', not diags, '; '.join(diags))
    issues = dockerfilelint(DOCKERFILE)
    result('dockerfilelint', not issues, '; '.join(issues))
    text = open(DOCKERFILE).read()
    tmp = tempfile.mkdtemp(prefix='tf-docker-')
    try:
        broken = os.path.join(tmp, 'Dockerfile')
        with open(broken, 'w') as f:
            f.write(text.replace('HEALTHCHECK --interval=30s', 'HEALTHCHECK --intervall=30s')
                    .replace('--no-install-recommends', '').replace('apt-get install -y', 'apt-get install'))
        result('linters_catch_broken_copy', node(LINT_JS, broken) and dockerfilelint(broken),
               'the linters passed a Dockerfile with a bad flag and apt-get install without -y')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    args = {a[0]: a[1] for a in parsed['args'] if a}
    st = stages(parsed)
    images = [re.sub(r'\$\{(\w+)\}', lambda m: args.get(m.group(1), m.group(0)), s['image']) for s in parsed['stages']]
    result('multi_stage_slim_debian', len(st) >= 2 and all(re.fullmatch(r'debian:[a-z]+-slim', i) for i in images),
           'stages from %s' % images)
    final = st[-1]
    kw = lambda k: [i for i in final if i['keyword'] == k]  # noqa: E731
    users = kw('USER')
    u = users[-1]['args'].split(':')[0] if users else None
    result('runs_as_non_root', u not in (None, 'root', '0') and ('--uid %s' % u in text or 'useradd' in text),
           'final USER %s' % u)
    hc = kw('HEALTHCHECK')
    result('has_healthcheck', hc and 'taskfleet-healthcheck' in hc[-1]['args'] and
           any(i['keyword'] == 'COPY' and 'taskfleet-healthcheck' in i['args'] for i in final), hc)
    copies = [i for i in final if i['keyword'] == 'COPY']
    result('ships_runners', any('/usr/local/lib/taskfleet/runners' in i['args'] and ['from', st[0][0]['args'].split()[-1]] in i['flags'] for i in copies),
           [i['args'] for i in copies])
    ep = kw('ENTRYPOINT')
    result('entrypoint_runs_consumer_under_init', ep and 'taskfleet-consumer' in ep[-1]['args'] and 'tini' in ep[-1]['args'], ep)
    ss = kw('STOPSIGNAL')
    result('stop_signal_sigterm', ss and ss[-1]['args'] in ('SIGTERM', '15'), ss)

    ok, why = build_matches_readme(parsed)
    result('build_commands_match_readme', ok, why)
    tmp = tempfile.mkdtemp(prefix='tf-docker-')
    try:
        broken = os.path.join(tmp, 'Dockerfile')
        with open(broken, 'w') as f:
            f.write(text.replace('make install PREFIX=/usr/local', 'make install PREFIX=/opt/taskfleet'))
        ok, _ = build_matches_readme(node(PARSE_JS, broken))
        result('build_command_check_catches_difference', not ok, 'a Dockerfile installing to /opt/taskfleet matched docs/building.md')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    build_pkgs = [p for i in st[0] if i['keyword'] == 'RUN' for p in apt_packages(i['args'])]
    readme = open(os.path.join(ROOT, 'docs', 'building.md')).read()
    lib_table = re.search(r'^## Libraries\n(.*?)(?=^## )', readme, re.M | re.S).group(1)
    want = re.findall(r'^\|[^|]+\| `([a-z0-9.+-]+)` \|', lib_table, re.M)
    result('build_stage_has_readme_libraries', want and all(p in build_pkgs for p in want),
           'docs/building.md lists %s, the build stage installs %s' % (want, build_pkgs))

    run_pkgs = [p for i in final if i['keyword'] == 'RUN' for p in apt_packages(i['args'])]
    files = [os.path.join(BUILD, 'bin', b) for b in ('taskfleet-consumer', 'taskfleet')]
    files += [os.path.join(BUILD, 'runners', f) for f in sorted(os.listdir(os.path.join(BUILD, 'runners')))] \
        if os.path.isdir(os.path.join(BUILD, 'runners')) else []
    if not all(os.path.exists(f) for f in files) or not shutil.which('readelf'):
        result('runtime_stage_has_needed_libraries', False, 'need the built binaries in %s and readelf (binutils)' % BUILD)
    else:
        needed = set()
        for f in files:
            out = subprocess.run(['readelf', '-d', f], stdout=subprocess.PIPE, text=True).stdout
            needed.update(re.findall(r'\(NEEDED\).*\[(.+)\]', out))
        missing = []
        for lib in sorted(needed):
            p = subprocess.run(['dpkg', '-S', '*/' + lib], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            pkgs = {ln.split(':')[0] for ln in p.stdout.splitlines() if ':' in ln}
            # libc6 (libc, libm, the loader) is in every Debian image.
            if not pkgs or not (pkgs & set(run_pkgs)) and 'libc6' not in pkgs:
                missing.append('%s (%s)' % (lib, ','.join(sorted(pkgs)) or 'no package'))
        result('runtime_stage_has_needed_libraries', not missing and 'ca-certificates' in run_pkgs and 'tzdata' in run_pkgs,
               'runtime stage installs %s; missing %s%s' % (run_pkgs, missing, '' if 'ca-certificates' in run_pkgs else ', ca-certificates'))

    tmp = tempfile.mkdtemp(prefix='tf-docker-root-')
    try:
        why = install_tree(tmp)
        if result('make_install_like_build_stage', why is None, why):
            problems = []
            for i in copies:
                srcs = i['args'].split()[:-1]
                if any(f[0] == 'from' for f in i['flags']):
                    for s in srcs:
                        if not os.path.exists(tmp + s):
                            problems.append('%s is not installed by make install' % s)
                else:
                    ignore = open(os.path.join(D, 'Dockerfile.dockerignore')).read().split()
                    for s in srcs:
                        if not os.path.exists(os.path.join(ROOT, s)) or '!' + s not in ignore:
                            problems.append('%s is missing or not in Dockerfile.dockerignore' % s)
            built = sorted(f for f in os.listdir(os.path.join(BUILD, 'runners')) if f.endswith('.so'))
            shipped = sorted(os.listdir(os.path.join(tmp, 'usr/local/lib/taskfleet/runners')))
            if built != shipped:
                problems.append('runners built %s, shipped %s' % (built, shipped))
            for s in ('Makefile', 'include/', 'lib/', 'consumer/', 'producer/', 'runners/'):
                if not any(i['keyword'] == 'COPY' and s in i['args'].split() for i in st[0]):
                    problems.append('the build stage does not copy %s' % s)
            result('copied_paths_exist', not problems, '; '.join(problems))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    check_healthcheck_script()
    check_real_consumer()
    rd = os.path.join(D, 'README.md')
    text = open(rd).read() if os.path.exists(rd) else ''
    missing = [w for w in ['docker build -f infra/docker/Dockerfile', 'docker run', '--restart on-failure', '--stop-timeout', 'TASKFLEET_QUEUE_URL'] if w not in text]
    result('readme_build_and_run', not missing, 'infra/docker/README.md lacks %s' % missing)


main()
finish()
