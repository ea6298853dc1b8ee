#!/usr/bin/env bash
# Build and push the code-location image, then roll it out with the official Dagster Helm chart.
# This is the imperative path; the GitOps path (Argo CD) is described in docs/DEPLOYMENT.md.
set -euo pipefail

readonly IMAGE_NAME="accidents-dagster"
readonly CHART_REPO_NAME="dagster"
readonly CHART_REPO_URL="https://dagster-io.github.io/helm"
readonly CHART_VERSION="1.13.27"   # = the dagster version pinned in pyproject.toml
readonly USER_DEPLOYMENT="accidents"
readonly LAKE_SECRET="accidents-lake-secrets"
readonly DAGSTER_PG_SECRET="dagster-postgresql-secret"
readonly PLATFORM_SECRET="accidents-platform-secrets"
readonly ROLLOUT_TIMEOUT="300s"

usage() {
    cat <<'EOF'
Usage: rebuild-and-deploy.sh --registry REGISTRY [options]

Builds Dockerfile.dagster, pushes REGISTRY/accidents-dagster:TAG, applies the lake ConfigMap and
the platform (PostgreSQL, MinIO and its bucket, MLflow: k8s/platform-*.yaml) and waits for it,
runs `helm upgrade --install` of the official Dagster chart with k8s/helm/values.yaml and the new
image, then restarts the `accidents` code location and waits for it.

kubectl and helm are used when on PATH, else microk8s' `microk8s kubectl` and `microk8s helm3`.

Prerequisite (once per namespace): the Secrets accidents-lake-secrets, dagster-postgresql-secret
and accidents-platform-secrets exist (see k8s/secret-lake.template.yaml).

Options:
  --registry R     image registry/prefix, e.g. ghcr.io/acme (required)
  --tag T          image tag (default: git short sha, plus -dirty-<time> with uncommitted changes)
  --namespace N    Kubernetes namespace of the release and of the run Jobs (default: accidents)
  --release NAME   Helm release name (default: dagster)
  --microk8s       use `microk8s kubectl` and `microk8s helm3` even if kubectl/helm are on PATH
  --dry-run        print each command (prefixed with "+ ") instead of running it
  -h, --help       show this help
EOF
}

die() {
    echo "rebuild-and-deploy.sh: error: $*" >&2
    echo "Run 'rebuild-and-deploy.sh --help' for usage." >&2
    exit 2
}

registry=""
tag=""
namespace="accidents"
release="dagster"
dry_run=false
microk8s=false

# Value of an option given as `--opt value`; fails clearly when the value is missing.
need_value() {
    if [[ $# -lt 2 || -z "$2" || "$2" == --* ]]; then
        die "option $1 needs a value"
    fi
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --registry) need_value "$@"; registry="$2"; shift 2 ;;
        --registry=*) registry="${1#*=}"; shift ;;
        --tag) need_value "$@"; tag="$2"; shift 2 ;;
        --tag=*) tag="${1#*=}"; shift ;;
        --namespace) need_value "$@"; namespace="$2"; shift 2 ;;
        --namespace=*) namespace="${1#*=}"; shift ;;
        --release) need_value "$@"; release="$2"; shift 2 ;;
        --release=*) release="${1#*=}"; shift ;;
        --dry-run) dry_run=true; shift ;;
        --microk8s) microk8s=true; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done

# Paths below (Dockerfile.dagster, k8s/...) and the git tag are relative to the repository root.
cd "$(dirname "${BASH_SOURCE[0]}")"

# --- validate arguments -------------------------------------------------------------------------
[[ -n "$registry" ]] || die "--registry is required (e.g. --registry ghcr.io/acme)"
registry="${registry%/}"
if [[ "$registry" == *://* ]]; then
    die "--registry '$registry' must not contain a scheme (use host[:port]/path, not https://...)"
fi
if [[ ! "$registry" =~ ^[a-z0-9]([a-z0-9._:-]*[a-z0-9])?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$ ]]; then
    die "--registry '$registry' is not a valid registry/prefix (lowercase host[:port][/path])"
fi

if [[ -z "$tag" ]]; then
    if ! tag="$(git rev-parse --short HEAD 2>/dev/null)"; then
        die "cannot derive the image tag from git (not a git checkout?): pass --tag"
    fi
    if [[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
        tag="${tag}-dirty-$(date -u +%Y%m%d%H%M%S)"
    fi
fi
if [[ ! "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
    die "--tag '$tag' is not a valid image tag ([A-Za-z0-9_.-], at most 128 characters)"
fi

dns_label='^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
if [[ ! "$namespace" =~ $dns_label || ${#namespace} -gt 63 ]]; then
    die "--namespace '$namespace' is not a valid namespace (lowercase letters, digits, '-'; max 63)"
fi
if [[ ! "$release" =~ $dns_label || ${#release} -gt 53 ]]; then
    die "--release '$release' is not a valid Helm release name (lowercase letters, digits, '-'; max 53)"
fi

# --- helpers ------------------------------------------------------------------------------------
# Quote an argument for display only when the shell would need it.
display_arg() {
    if [[ "$1" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
        printf '%s' "$1"
    else
        printf "'%s'" "${1//\'/\'\\\'\'}"
    fi
}

run() {
    if [[ "$dry_run" == true ]]; then
        local out="+" arg
        for arg in "$@"; do
            out+=" $(display_arg "$arg")"
        done
        printf '%s\n' "$out"
    else
        "$@"
    fi
}

require_tools() {
    local tool missing=()
    for tool in "$@"; do
        command -v "${tool%% *}" >/dev/null 2>&1 || missing+=("$tool")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        echo "rebuild-and-deploy.sh: error: missing tools: ${missing[*]}" >&2
        exit 3
    fi
}

# microk8s ships its own kubectl and helm as `microk8s kubectl` and `microk8s helm3`.
kubectl=(kubectl)
helm=(helm)
have() { command -v "$1" >/dev/null 2>&1; }
if [[ "$microk8s" == true ]] || { ! have kubectl && have microk8s; }; then kubectl=(microk8s kubectl); fi
if [[ "$microk8s" == true ]] || { ! have helm && have microk8s; }; then helm=(microk8s helm3); fi

# Apply a manifest from stdin with its image `accidents-dagster` replaced by the image just pushed.
apply_with_image() {
    if [[ "$dry_run" == true ]]; then
        printf '+ %s apply --namespace %s -f -  # %s with image %s\n' "${kubectl[*]}" "$namespace" "$1" "$image"
    else
        sed "s|image: accidents-dagster\$|image: ${image}|" "$1" | "${kubectl[@]}" apply --namespace "$namespace" -f -
    fi
}

# --- deploy -------------------------------------------------------------------------------------
[[ "$dry_run" == true ]] || require_tools docker "${helm[*]}" "${kubectl[*]}"

image="${registry}/${IMAGE_NAME}:${tag}"
selector="component=user-deployments,deployment=${USER_DEPLOYMENT}"
echo "Deploying ${image} as Helm release '${release}' in namespace '${namespace}'" >&2

# 1. Image.
run docker build -f Dockerfile.dagster -t "$image" .
run docker push "$image"

# 2. Settings: the Secrets must already exist (never created from files in git); the ConfigMap
#    is versioned in k8s/configmap-lake.yaml and applied into the target namespace.
if ! run "${kubectl[@]}" get secret "$LAKE_SECRET" "$DAGSTER_PG_SECRET" "$PLATFORM_SECRET" \
        --namespace "$namespace" -o name; then
    echo "rebuild-and-deploy.sh: error: create the Secrets ${LAKE_SECRET}, ${DAGSTER_PG_SECRET} and" \
        "${PLATFORM_SECRET} in namespace ${namespace} first (see k8s/secret-lake.template.yaml)" >&2
    exit 4
fi
run "${kubectl[@]}" apply --namespace "$namespace" -f k8s/configmap-lake.yaml

# 3. Platform: PostgreSQL (catalog, Dagster and MLflow databases), MinIO and its bucket, then the
#    MLflow server, which runs the image just pushed (its manifest names it `accidents-dagster`).
run "${kubectl[@]}" apply --namespace "$namespace" -f k8s/platform-postgres.yaml -f k8s/platform-minio.yaml
run "${kubectl[@]}" rollout status statefulset/postgres statefulset/minio --namespace "$namespace" \
    --timeout "$ROLLOUT_TIMEOUT"
run "${kubectl[@]}" wait --for=condition=complete job/create-bucket --namespace "$namespace" \
    --timeout "$ROLLOUT_TIMEOUT"
apply_with_image k8s/platform-mlflow.yaml
run "${kubectl[@]}" rollout status deployment/mlflow --namespace "$namespace" --timeout "$ROLLOUT_TIMEOUT"

# 4. Dagster release: webserver, daemon and the `accidents` code location with the new image.
run "${helm[@]}" repo add "$CHART_REPO_NAME" "$CHART_REPO_URL" --force-update
run "${helm[@]}" repo update "$CHART_REPO_NAME"
run "${helm[@]}" upgrade --install "$release" "${CHART_REPO_NAME}/dagster" \
    --version "$CHART_VERSION" \
    --namespace "$namespace" \
    --values k8s/helm/values.yaml \
    --set "dagster-user-deployments.deployments[0].image.repository=${registry}/${IMAGE_NAME}" \
    --set "dagster-user-deployments.deployments[0].image.tag=${tag}" \
    --set "runLauncher.config.k8sRunLauncher.jobNamespace=${namespace}" \
    --wait --timeout 10m

# 5. Restart the code server (reloads definitions even when the tag was reused) and wait for it.
run "${kubectl[@]}" rollout restart deployment --namespace "$namespace" --selector "$selector"
run "${kubectl[@]}" rollout status deployment --namespace "$namespace" --selector "$selector" \
    --timeout "$ROLLOUT_TIMEOUT"

if [[ "$dry_run" == true ]]; then
    echo "Dry run: nothing was executed." >&2
else
    echo "Done: ${image} serves the 'accidents' code location in ${namespace}." >&2
fi
