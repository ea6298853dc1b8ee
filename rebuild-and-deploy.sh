#!/usr/bin/env bash
# Build and push the project's image, then deploy everything docs/DEPLOYMENT.md describes with it: the
# namespace, lake settings, PostgreSQL, MinIO and its bucket, MLflow and the risk API (k8s/, through a
# kustomize overlay that sets the image just pushed, the namespace and the claims' storage class), and
# the official Dagster Helm chart (webserver, daemon, the `accidents` code location). --bootstrap then
# fills an empty lake and switches the schedules on. The GitOps path (Argo CD) is in docs/DEPLOYMENT.md.
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
readonly BOOTSTRAP_TIMEOUT_S=14400  # the Job's own activeDeadlineSeconds
readonly JOB_POLL_SECONDS=15
readonly API_DEPLOYMENT="accidents-api"

usage() {
    cat <<'EOF'
Usage: rebuild-and-deploy.sh --registry REGISTRY [options]

Builds Dockerfile.dagster and pushes REGISTRY/accidents-dagster:TAG; applies k8s/ (namespace, lake
ConfigMap, PostgreSQL, MinIO and its bucket, MLflow, the risk API) rendered with that image, this
namespace and the claims' storage class, and waits for the platform; runs `helm upgrade --install` of
the official Dagster chart with k8s/helm/values.yaml and the new image; restarts the `accidents` code
location and waits for it and for the API. With --bootstrap, then runs the bootstrap Job
(k8s/bootstrap/: ingest every year, build the model, predict tomorrow, switch the schedules on).

kubectl and helm are used when on PATH, else microk8s' `microk8s kubectl` and `microk8s helm3`.

Prerequisite (once per namespace): the Secrets accidents-lake-secrets, dagster-postgresql-secret
and accidents-platform-secrets exist (see k8s/secret-lake.template.yaml).

Options:
  --registry R        image registry/prefix, e.g. ghcr.io/acme or localhost:32000 (required)
  --tag T             image tag (default: git short sha, plus -dirty-<time> with uncommitted changes)
  --namespace N       Kubernetes namespace of everything, run Jobs included (default: accidents)
  --release NAME      Helm release name (default: dagster)
  --storage-class SC  storage class of the PostgreSQL and MinIO claims (default: the cluster's
                      default StorageClass; none is an error)
  --bootstrap         after the deployment, fill an empty lake and switch the schedules on
  --microk8s          use `microk8s kubectl` and `microk8s helm3` even if kubectl/helm are on PATH
  --render            print the k8s/ manifests this would apply (kubectl kustomize; offline) and exit
  --dry-run           print each command (prefixed with "+ ") instead of running it
  -h, --help          show this help
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
render=false
bootstrap=false
storage_class=""

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
        --storage-class) need_value "$@"; storage_class="$2"; shift 2 ;;
        --storage-class=*) storage_class="${1#*=}"; shift ;;
        --bootstrap) bootstrap=true; shift ;;
        --render) render=true; shift ;;
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
if [[ -n "$storage_class" && ( ! "$storage_class" =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ || ${#storage_class} -gt 253 ) ]]; then
    die "--storage-class '$storage_class' is not a valid StorageClass name"
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

# Wait for a Job to succeed; when it fails (backoffLimit 0: at its first failure) print the end of its
# log and stop with exit code 6 instead of waiting out the timeout.
wait_for_job() {
    local job="job/$1" state deadline=$((SECONDS + BOOTSTRAP_TIMEOUT_S))
    local status=(get "$job" --namespace "$namespace" -o 'jsonpath={.status.succeeded}/{.status.failed}')
    if [[ "$dry_run" == true ]]; then
        run "${kubectl[@]}" "${status[@]}"
        return
    fi
    while (( SECONDS < deadline )); do
        state=$("${kubectl[@]}" "${status[@]}")
        case "$state" in
            [1-9]*/*) return 0 ;;
            */[1-9]*)
                echo "rebuild-and-deploy.sh: error: $job failed; the end of its log:" >&2
                "${kubectl[@]}" logs "$job" --namespace "$namespace" --tail=20 >&2 || true
                exit 6 ;;
        esac
        sleep "$JOB_POLL_SECONDS"
    done
    echo "rebuild-and-deploy.sh: error: $job did not finish within ${BOOTSTRAP_TIMEOUT_S} s" >&2
    exit 6
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

# The chart names its objects after the release: `<release>` when it contains "dagster", else
# `<release>-dagster` (the chart's fullname helper); its instance ConfigMap is `<fullname>-instance`.
chart_fullname() {
    if [[ "$release" == *dagster* ]]; then printf '%s' "$release"; else printf '%s-dagster' "$release"; fi
}

# A kustomize overlay of k8s/ (or of k8s/bootstrap/) in folder $1 that sets the image just pushed, the
# namespace, the claims' storage class (k8s/) or the release's instance ConfigMap (k8s/bootstrap/).
write_overlay() {
    local dir="$1" part="$2" base
    mkdir -p "$dir"
    base="$(realpath --relative-to="$dir" "k8s/${part}")"
    {
        printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n'
        printf 'namespace: %s\nresources:\n  - %s\n' "$namespace" "$base"
        printf 'images:\n  - name: %s\n    newName: %s\n    newTag: "%s"\n' "$IMAGE_NAME" "${registry}/${IMAGE_NAME}" "$tag"
        if [[ -z "$part" && -n "$storage_class" ]]; then
            printf 'patches:\n  - target: {kind: StatefulSet}\n    patch: |-\n'
            printf '      - op: add\n        path: /spec/volumeClaimTemplates/0/spec/storageClassName\n'
            printf '        value: %s\n' "$storage_class"
        elif [[ "$part" == bootstrap ]]; then
            printf 'patches:\n  - target: {kind: Job, name: accidents-bootstrap}\n    patch: |-\n'
            printf '      - op: replace\n        path: /spec/template/spec/volumes/0/configMap/name\n'
            printf '        value: %s-instance\n' "$(chart_fullname)"
        fi
    } > "$dir/kustomization.yaml"
}

# Render k8s/ (part "") or k8s/bootstrap/ into $overlay/<part>/manifests.yaml and apply it.
apply_part() {
    local part="$1" dir="$overlay/${1:-main}" claims=""
    write_overlay "$dir" "$part"
    [[ -n "$part" ]] || claims=", storage class ${storage_class:-(the cluster default)}"
    if [[ "$dry_run" == true ]]; then
        printf '+ %s kustomize OVERLAY  # k8s/%s with image %s, namespace %s%s, to OVERLAY/manifests.yaml\n' \
            "${kubectl[*]}" "${part:+$part/}" "$image" "$namespace" "$claims"
        printf '+ %s apply --namespace %s -f OVERLAY/manifests.yaml\n' "${kubectl[*]}" "$namespace"
    else
        "${kubectl[@]}" kustomize "$dir" > "$dir/manifests.yaml"
        "${kubectl[@]}" apply --namespace "$namespace" -f "$dir/manifests.yaml"
    fi
}

image="${registry}/${IMAGE_NAME}:${tag}"

overlay="$(mktemp -d)"
trap 'rm -rf "$overlay"' EXIT

if [[ "$render" == true ]]; then
    write_overlay "$overlay/main" ""
    "${kubectl[@]}" kustomize "$overlay/main"
    if [[ "$bootstrap" == true ]]; then
        write_overlay "$overlay/bootstrap" bootstrap
        printf -- '---\n'
        "${kubectl[@]}" kustomize "$overlay/bootstrap"
    fi
    exit 0
fi

# --- deploy -------------------------------------------------------------------------------------
[[ "$dry_run" == true ]] || require_tools docker "${helm[*]}" "${kubectl[*]}"

selector="component=user-deployments,deployment=${USER_DEPLOYMENT}"
echo "Deploying ${image} as Helm release '${release}' in namespace '${namespace}'" >&2

# 1. Image.
run docker build -f Dockerfile.dagster -t "$image" .
run docker push "$image"

# 2. Settings: the Secrets must already exist (never created from files in git).
if ! run "${kubectl[@]}" get secret "$LAKE_SECRET" "$DAGSTER_PG_SECRET" "$PLATFORM_SECRET" \
        --namespace "$namespace" -o name; then
    echo "rebuild-and-deploy.sh: error: create the Secrets ${LAKE_SECRET}, ${DAGSTER_PG_SECRET} and" \
        "${PLATFORM_SECRET} in namespace ${namespace} first (see k8s/secret-lake.template.yaml)" >&2
    exit 4
fi

# 3. The claims need a storage class: the one given, else the cluster's default.
if [[ -z "$storage_class" && "$dry_run" != true ]]; then
    storage_class="$("${kubectl[@]}" get storageclass -o \
        jsonpath='{range .items[?(@.metadata.annotations.storageclass\.kubernetes\.io/is-default-class=="true")]}{.metadata.name}{"\n"}{end}' \
        | head -n 1)"
    if [[ -z "$storage_class" ]]; then
        echo "rebuild-and-deploy.sh: error: the cluster has no default StorageClass for the PostgreSQL and" \
            "MinIO claims: pass --storage-class, or enable one (microk8s: microk8s enable hostpath-storage)" >&2
        exit 5
    fi
fi

# 4. k8s/ with the image just pushed: namespace, lake ConfigMap, PostgreSQL, MinIO and its bucket,
#    MLflow, the risk API. The platform must be up before the Dagster release uses it.
apply_part ""
run "${kubectl[@]}" rollout status statefulset/postgres statefulset/minio --namespace "$namespace" \
    --timeout "$ROLLOUT_TIMEOUT"
run "${kubectl[@]}" wait --for=condition=complete job/create-bucket --namespace "$namespace" \
    --timeout "$ROLLOUT_TIMEOUT"
run "${kubectl[@]}" rollout status deployment/mlflow --namespace "$namespace" --timeout "$ROLLOUT_TIMEOUT"

# 5. Dagster release: webserver, daemon and the `accidents` code location with the new image.
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

# 6. Restart the code server (reloads definitions even when the tag was reused) and wait for it and
#    for the API.
run "${kubectl[@]}" rollout restart deployment --namespace "$namespace" --selector "$selector"
run "${kubectl[@]}" rollout status deployment --namespace "$namespace" --selector "$selector" \
    --timeout "$ROLLOUT_TIMEOUT"
run "${kubectl[@]}" rollout status "deployment/${API_DEPLOYMENT}" --namespace "$namespace" --timeout "$ROLLOUT_TIMEOUT"

# 7. Optionally, fill an empty lake and switch the schedules on (a Job's spec cannot change: the
#    previous one is deleted first).
if [[ "$bootstrap" == true ]]; then
    run "${kubectl[@]}" delete job accidents-bootstrap --namespace "$namespace" --ignore-not-found
    apply_part bootstrap
    wait_for_job accidents-bootstrap
fi

if [[ "$dry_run" == true ]]; then
    echo "Dry run: nothing was executed." >&2
else
    echo "Done: ${image} serves the 'accidents' code location and the risk API in ${namespace}." >&2
fi
