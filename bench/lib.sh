# Shared by the bench scripts: source it after setting $out (a temporary
# folder the script removes).

# timed FILE COMMAND...: runs COMMAND with its output in $out/log (shown,
# and the script stopped, when it fails) and appends its seconds to FILE.
timed() {
  local file=$1 t0 t1; shift
  t0=$(date +%s%N)
  "$@" >"$out/log" 2>&1 || { tail -50 "$out/log"; exit 1; }
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }' >>"$file"
}

# median FILE: the median of the numbers in FILE, one per line.
median() { sort -n "$1" | awk '{v[NR]=$1} END {print (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}'; }

# stats LABEL FILE: "LABEL min …, median …, max …" of the seconds in FILE.
stats() {
  sort -n "$2" | awk -v n="$1" -v m="$(median "$2")" '{v[NR]=$1} END {printf "%-12s min %.2f s, median %.2f s, max %.2f s\n", n, v[1], m, v[NR]}'
}
