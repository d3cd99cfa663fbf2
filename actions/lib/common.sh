# Shared by the mlops-ci composite actions (sourced by their steps; see actions/*/action.yml).
# Inputs arrive as environment variables set in each step's `env:`; nothing here is templated.

# mlops_ci_install: create a virtualenv in $RUNNER_TEMP, install mlops-ci into it, put it first
# on PATH. By default from the checkout the action runs from ($MLOPS_CI_ACTION_PATH/../..: the
# ref named in `uses:`), so no published package is needed; MLOPS_CI_VERSION set pins a release
# from the package index instead.
mlops_ci_install() {
  local venv="${RUNNER_TEMP:?RUNNER_TEMP is not set}/mlops-ci-venv"
  local python="${MLOPS_CI_PYTHON:-python3}"
  if ! command -v "$python" >/dev/null 2>&1; then
    echo "::error::mlops-ci: no Python interpreter '$python'; add actions/setup-python first"
    return 2
  fi
  "$python" -m venv "$venv" || return 2
  if [ -n "${MLOPS_CI_VERSION:-}" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "mlops-ci==$MLOPS_CI_VERSION" || return 2
  else
    local source="${MLOPS_CI_ACTION_PATH:?MLOPS_CI_ACTION_PATH is not set}/../.."
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$source" || return 2
  fi
  echo "$venv/bin" >> "${GITHUB_PATH:?GITHUB_PATH is not set}"
  "$venv/bin/mlops-ci" --version
}

# mlops_ci_summary FILE: append a markdown file to the step summary, cut under GitHub's 1 MiB.
mlops_ci_summary() {
  local file="$1" limit=1000000
  [ -n "${GITHUB_STEP_SUMMARY:-}" ] || return 0
  if [ ! -f "$file" ]; then
    printf '## mlops-ci could not run\n\nNo report was written: see the job log.\n' >> "$GITHUB_STEP_SUMMARY"
    return 0
  fi
  if [ "$(wc -c < "$file")" -gt "$limit" ]; then
    head -c "$limit" "$file" >> "$GITHUB_STEP_SUMMARY"
    printf '\n\n… cut at 1 MB: the full report is %s (upload it as an artifact).\n' "$file" >> "$GITHUB_STEP_SUMMARY"
  else
    cat "$file" >> "$GITHUB_STEP_SUMMARY"
  fi
}

# mlops_ci_words VAR_VALUE: split a list given as words, commas or lines (no globbing).
mlops_ci_words() {
  local -a words
  read -r -a words <<< "$(printf '%s' "$1" | tr ',\n' '  ')"
  [ "${#words[@]}" -eq 0 ] || printf '%s\n' "${words[@]}"
}

# mlops_ci_comment FILE: upsert the sticky PR comment when a token was given on a PR.
mlops_ci_comment() {
  local file="$1"
  [ -n "${GITHUB_TOKEN:-}" ] || return 0
  [ -f "$file" ] || return 0
  if ! mlops-ci ci comment "$file"; then
    echo "::warning::mlops-ci: could not post the PR comment (a fork's token is read-only; grant pull-requests: write)"
  fi
}

# mlops_ci_outputs DIR STATUS [STEM]: write verdict, report, markdown, sarif and sbom of the
# reports DIR/STEM.{json,md,sarif} (STEM: mlops-ci for check, mlops-ci-verify for verify) to
# $GITHUB_OUTPUT.
mlops_ci_outputs() {
  local dir="$1" status="$2" stem="${3:-mlops-ci}"
  {
    echo "exit-code=$status"
    echo "markdown=$([ -f "$dir/$stem.md" ] && echo "$dir/$stem.md")"
    if [ -f "$dir/$stem.json" ]; then
      mlops-ci ci outputs "$dir/$stem.json" --sarif "$dir/$stem.sarif"
    else
      case "$status" in 0) echo "verdict=pass" ;; 1) echo "verdict=fail" ;; *) echo "verdict=error" ;; esac
      echo "report="
      echo "sarif="
      echo "sbom="
    fi
  } >> "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
}

# mlops_ci_git_token: let git push over HTTPS with $GITHUB_TOKEN for this step only. The header
# goes through GIT_CONFIG_* variables (git >= 2.31), so no credential is written to .git/config
# (the checkout keeps persist-credentials: false).
mlops_ci_git_token() {
  [ -n "${GITHUB_TOKEN:-}" ] || return 0
  local basic
  basic="$(printf 'x-access-token:%s' "$GITHUB_TOKEN" | base64 | tr -d '\n')"
  echo "::add-mask::$basic"
  export GIT_CONFIG_COUNT=1
  export GIT_CONFIG_KEY_0="http.${GITHUB_SERVER_URL:-https://github.com}/.extraheader"
  export GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $basic"
}

# mlops_ci_commit_evidence BRANCH: commit new or changed signatures and attestations and push
# them to BRANCH (a fast-forward: if BRANCH moved since this checkout, the push fails).
mlops_ci_commit_evidence() {
  local branch="$1"
  git add -A -- ':(glob)**/*.sig' ':(glob)**/*.sigstore.json'
  if git diff --cached --quiet; then
    echo "evidence: nothing new to commit"
    return 0
  fi
  git -c user.name="mlops-ci[bot]" -c user.email="mlops-ci-bot@users.noreply.github.com" \
    commit --quiet --message "Evidence of the gates: signatures and attestations"
  git push --quiet origin "HEAD:refs/heads/$branch"
  echo "evidence: committed $(git rev-parse --short HEAD) and pushed it to $branch"
}

# mlops_ci_push_model MODEL PREFIX TAG LOG: push MODEL (signed, with its evidence as referrers) to
# PREFIX/MODEL:TAG, appending the output to LOG; sets $artifact to PREFIX/MODEL@DIGEST, the
# digest-pinned reference a promotion names. Returns mlops-ci's exit code.
mlops_ci_push_model() {
  local model="$1" prefix="${2%/}" tag="$3" log="$4" out code=0
  out="$(mktemp)"
  mlops-ci push "$model" --to "$prefix/$model:$tag" > "$out" 2>&1 || code=$?
  tee -a "$log" < "$out"
  if [ "$code" -eq 0 ]; then
    artifact="$prefix/$model@$(sed -n 's/^digest: //p' "$out")"
  fi
  rm -f "$out"
  return "$code"
}
