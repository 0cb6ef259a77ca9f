#!/usr/bin/env bash
# The deployment files under deploy/ stay valid:
#   - Helm: `helm lint` and `helm template` of deploy/helm/cdcagent with the default values,
#     with ServiceMonitor/Secret/extra env turned on, and with the values a pod next to
#     Postgres would use; the rendered manifests are read with python3-yaml and checked
#     (kinds, probe paths, strategy Recreate, one replica, runAsNonRoot, envFrom secretRef,
#     ConfigMap holding both files).  helm comes pinned from the Go module proxy into
#     .cache/gobin (`go install`), once.
#   - deploy/helm/examples/sidecar.yaml: parses; the cdcagent container has the probes
#     and runs as non-root.
#   - systemd: `systemd-analyze verify` of deploy/systemd/cdcagent.service (ExecStart
#     pointed at /bin/true, since the binary is not installed here), when systemd-analyze
#     exists (Debian package `systemd`); otherwise a TAP SKIP.
#   - Dockerfile: hadolint is not available here, so a documented grep check: every FROM
#     names a tag that is not :latest (or an ARG that defaults to one), the runtime stage
#     switches to a non-root USER, EXPOSE 8080, a HEALTHCHECK, the default CMD, and
#     ENV CDCAGENT_REFUSE_ROOT=1 (the agent's own refusal to run as root: 462).
# Needs no PostgreSQL.  Without helm and without go, the Helm part is a TAP SKIP.
. "$(dirname "$0")/common.sh"

HELM_VERSION=v3.15.4
CACHE=$CDC_SRC/.cache
CHART=$CDC_SRC/deploy/helm/cdcagent

# ---------------------------------------------------------------- helm
helm=$CACHE/gobin/helm
if [ ! -x "$helm" ] && command -v go >/dev/null; then
    note "installing helm $HELM_VERSION into $CACHE/gobin (once)"
    mkdir -p "$CACHE/gobin"
    GOBIN=$CACHE/gobin go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >"$T/helm-install.log" 2>&1 ||
        note "helm install failed: $(tail -3 "$T/helm-install.log")"
fi
[ -x "$helm" ] || helm=$(command -v helm || true)

# check_manifests FILE MODE: python3-yaml assertions on a `helm template` output.
check_manifests() {
    python3 - "$1" "$2" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
mode = sys.argv[2]
kinds = sorted(d["kind"] for d in docs)
want = {"ConfigMap", "Deployment", "Service", "ServiceAccount"}
if mode == "full":
    want |= {"ServiceMonitor", "Secret"}
missing = want - set(kinds)
assert not missing, f"missing kinds {missing}; rendered {kinds}"
for d in docs:
    assert d["metadata"]["name"], f"{d['kind']} without a name"
dep = next(d for d in docs if d["kind"] == "Deployment")
spec = dep["spec"]
assert spec["strategy"]["type"] == "Recreate", spec["strategy"]
assert spec["replicas"] == 1
pod = spec["template"]["spec"]
assert pod["securityContext"]["runAsNonRoot"] is True
c = pod["containers"][0]
assert c["securityContext"]["runAsNonRoot"] is True
assert c["securityContext"]["allowPrivilegeEscalation"] is False
assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
assert c["livenessProbe"]["httpGet"]["port"] == "health"
assert any(p["name"] == "health" for p in c["ports"])
assert c["args"] == ["cdcagent", "run", "/config/pipeline.yaml",
                     "--platform-config", "/config/platform.yaml"], c["args"]
assert "limits" in c["resources"] and "requests" in c["resources"]
mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
assert mounts["/config"]["readOnly"] is True
# agent.state_dir defaults to the working directory; under a read-only root filesystem
# it must be a mounted, writable volume, or the agent cannot keep its slot's record.
wd = c.get("workingDir")
assert wd in mounts and not mounts[wd].get("readOnly"), f"workingDir {wd} is not a writable mount"
statevol = next(v for v in pod["volumes"] if v["name"] == mounts[wd]["name"])
if mode == "full":
    assert statevol["persistentVolumeClaim"]["claimName"] == "cdc-state", statevol
else:
    assert "emptyDir" in statevol, statevol
cm = next(d for d in docs if d["kind"] == "ConfigMap")
assert set(cm["data"]) == {"pipeline.yaml", "platform.yaml"}
for f in cm["data"].values():
    yaml.safe_load(f)                  # the embedded files are YAML too
cfgvol = next(v for v in pod["volumes"] if v["name"] == "config")
assert cfgvol["configMap"]["name"] == cm["metadata"]["name"]
svc = next(d for d in docs if d["kind"] == "Service")
assert svc["spec"]["ports"][0]["targetPort"] == "health"
if mode == "full":
    assert c["envFrom"][0]["secretRef"]["name"], c.get("envFrom")
    sm = next(d for d in docs if d["kind"] == "ServiceMonitor")
    assert sm["spec"]["endpoints"][0]["path"] == "/metrics"
    assert sm["spec"]["endpoints"][0]["port"] == "health"
    assert any(e["name"] == "EXTRA" for e in c["env"])
if mode == "sidecarish":
    assert c["envFrom"][0]["secretRef"]["name"] == "pg-cdc-secrets", c.get("envFrom")
    assert "host: 127.0.0.1" in cm["data"]["pipeline.yaml"]
print(" ".join(kinds))
PY
}

if [ -z "$helm" ]; then
    ok "# SKIP helm not available and cannot be installed (no go toolchain)"
else
    "$helm" lint "$CHART" >"$T/lint.out" 2>&1 || fail "helm lint: $(cat "$T/lint.out")"
    ok "helm lint ($("$helm" version --short 2>/dev/null))"
    "$helm" lint --strict "$CHART" --set serviceMonitor.enabled=true >"$T/lint2.out" 2>&1 ||
        fail "helm lint --strict with serviceMonitor: $(cat "$T/lint2.out")"
    ok "helm lint --strict with serviceMonitor.enabled"

    "$helm" template orders-cdc "$CHART" >"$T/default.yaml" 2>"$T/template.err" ||
        fail "helm template (defaults): $(cat "$T/template.err")"
    out=$(check_manifests "$T/default.yaml" default) || fail "default manifests: $out"
    ok "helm template with defaults: $out"

    "$helm" template orders-cdc "$CHART" --set serviceMonitor.enabled=true \
        --set secret.create=true --set secret.data.CDC_SOURCE_PASSWORD=x \
        --set 'extraEnv[0].name=EXTRA' --set 'extraEnv[0].value=1' --set state.existingClaim=cdc-state \
        >"$T/full.yaml" 2>"$T/template.err" || fail "helm template (full): $(cat "$T/template.err")"
    out=$(check_manifests "$T/full.yaml" full) || fail "full manifests: $out"
    ok "helm template with ServiceMonitor, Secret and extra env: $out"

    # The values of a pipeline next to its database (what the sidecar example does).
    cat >"$T/sidecarish.yaml" <<'EOF'
secret:
  existingSecret: pg-cdc-secrets
resources:
  requests: {cpu: 100m, memory: 128Mi}
  limits: {cpu: 500m, memory: 256Mi}
config:
  pipeline: |
    pipeline_id: orders-cdc
    topic_prefix: cdc
    source:
      host: 127.0.0.1
      port: 5432
      database: appdb
      username: cdc_user
      password: ${CDC_SOURCE_PASSWORD}
      tables: [public.orders]
      slot_name: orders_cdc_slot
    sinks:
      - sink_id: stdout
        sink_type: jsonl
        jsonl: {path: "-"}
EOF
    "$helm" template pg "$CHART" -f "$T/sidecarish.yaml" >"$T/sidecarish.out.yaml" 2>"$T/template.err" ||
        fail "helm template (sidecar values): $(cat "$T/template.err")"
    out=$(check_manifests "$T/sidecarish.out.yaml" sidecarish) || fail "sidecar-values manifests: $out"
    ok "helm template with sidecar-style values: $out"

    # A config that the agent itself accepts: the chart's default files validate.
    if [ -x "$CDCAGENT" ]; then
        python3 - "$T/default.yaml" "$T" <<'PY'
import sys, yaml
cm = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "ConfigMap")
for name, text in cm["data"].items():
    open(f"{sys.argv[2]}/chart-{name}", "w").write(text)
PY
        rc=0
        CDC_SOURCE_HOST=db CDC_SOURCE_DB=app CDC_SOURCE_USER=u CDC_SOURCE_PASSWORD=p \
            "$CDCAGENT" validate "$T/chart-pipeline.yaml" --platform-config "$T/chart-platform.yaml" \
            >"$T/validate.out" 2>&1 || rc=$?
        expect_eq "cdcagent validate accepts the chart's default pipeline.yaml/platform.yaml ($(head -c 300 "$T/validate.out"))" "$rc" 0
    else
        ok "# SKIP cdcagent validate of the chart's files: $CDCAGENT not built"
    fi
fi

# ---------------------------------------------------------------- sidecar example
out=$(python3 - "$CDC_SRC/deploy/helm/examples/sidecar.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
sts = next(d for d in docs if d["kind"] == "StatefulSet")
cs = {c["name"]: c for c in sts["spec"]["template"]["spec"]["containers"]}
assert {"postgres", "cdcagent"} <= set(cs), set(cs)
c = cs["cdcagent"]
assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
assert c["securityContext"]["runAsNonRoot"] is True
assert "wal_level=logical" in cs["postgres"]["args"]
cm = next(d for d in docs if d["kind"] == "ConfigMap")
for text in cm["data"].values():
    yaml.safe_load(text)
assert "host: 127.0.0.1" in cm["data"]["pipeline.yaml"]
print(" ".join(sorted(d["kind"] for d in docs)))
PY
) || fail "sidecar example: $out"
ok "examples/sidecar.yaml: $out"

# ---------------------------------------------------------------- systemd
UNIT=$CDC_SRC/deploy/systemd/cdcagent.service
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$T/unit"
    sed 's#/usr/local/bin/cdcagent#/bin/true#g' "$UNIT" >"$T/unit/cdcagent.service"
    if SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$T/unit/cdcagent.service" >"$T/sdv.out" 2>&1 &&
        ! grep -q . "$T/sdv.out"; then
        ok "systemd-analyze verify cdcagent.service"
    else
        fail "systemd-analyze verify: $(cat "$T/sdv.out")"
    fi
else
    ok "# SKIP systemd-analyze not installed (apt-get install systemd)"
fi
for key in 'User=cdcagent' 'ProtectSystem=strict' 'NoNewPrivileges=yes' 'PrivateTmp=yes' \
           'Restart=on-failure' 'RestartSec=' 'EnvironmentFile=-/etc/cdcagent/' \
           'ExecStart=/usr/local/bin/cdcagent run /etc/cdcagent/pipeline.yaml'; do
    grep -q "^$key" "$UNIT" || fail "cdcagent.service lacks $key"
done
ok "cdcagent.service: dedicated user, hardening, restart policy, /etc/cdcagent, EnvironmentFile"

# ---------------------------------------------------------------- Dockerfile
# A grep-level stand-in for hadolint's DL3006/DL3007 (tagged, non-latest bases) and
# DL3002 (last USER not root), plus what the platform expects of the image.
DF=$CDC_SRC/deploy/docker/Dockerfile
problems=$(python3 - "$DF" <<'PY'
import re, sys
lines = []
for raw in open(sys.argv[1]).read().replace("\\\n", " ").splitlines():
    s = raw.strip()
    if s and not s.startswith("#"):
        lines.append(s)
args = {}
probs = []
for s in lines:
    m = re.match(r"ARG\s+(\w+)=(\S+)", s)
    if m:
        args[m.group(1)] = m.group(2)
froms = [s for s in lines if s.upper().startswith("FROM ")]
if len(froms) < 2:
    probs.append("not multi-stage")
for f in froms:
    image = f.split()[1]
    image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), "?"), image)
    if ":" not in image and "@" not in image:
        probs.append(f"untagged base: {f}")
    if image.endswith(":latest"):
        probs.append(f":latest base: {f}")
last_from = max(i for i, s in enumerate(lines) if s.upper().startswith("FROM "))
runtime = lines[last_from:]
if "bookworm-slim" not in froms[-1] and args.get("DEBIAN_TAG") != "bookworm-slim":
    probs.append("runtime stage is not debian:bookworm-slim")
users = [s.split()[1] for s in runtime if s.upper().startswith("USER ")]
if not users or users[-1].split(":")[0] in ("root", "0"):
    probs.append(f"runtime stage does not end as a non-root USER ({users})")
if not any(s.upper().startswith("EXPOSE ") and "8080" in s for s in runtime):
    probs.append("no EXPOSE 8080")
if not any(s.upper().startswith("HEALTHCHECK ") and "/healthz" in s for s in runtime):
    probs.append("no HEALTHCHECK on /healthz")
cmd = [s for s in runtime if s.upper().startswith("CMD ")]
want = 'CMD ["cdcagent", "run", "/config/pipeline.yaml", "--platform-config", "/config/platform.yaml"]'
if not cmd or cmd[-1] != want:
    probs.append(f"default CMD is {cmd[-1:]} not {want}")
if not any("useradd" in s and "cdcagent" in s for s in runtime):
    probs.append("no cdcagent user created")
if not any(re.match(r"ENV\s+(.*\s)?CDCAGENT_REFUSE_ROOT=1(\s|$)", s) for s in runtime):
    probs.append("runtime stage does not set ENV CDCAGENT_REFUSE_ROOT=1")
print("; ".join(probs))
PY
)
[ -z "$problems" ] || fail "Dockerfile: $problems"
ok "Dockerfile: multi-stage, pinned non-latest bases, non-root USER, EXPOSE 8080, HEALTHCHECK, CMD, CDCAGENT_REFUSE_ROOT=1"

done_testing
