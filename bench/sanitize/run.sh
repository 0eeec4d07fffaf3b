#!/bin/sh
# make sanitize: builds extreme3d._core with AddressSanitizer + UndefinedBehaviorSanitizer into
# build/sanitize and runs the test suite (or $SANITIZE_TESTS) with it preloaded. Writes
# build/sanitize/status ("clean" or "failed rc=N") and build/sanitize/pytest.log.
set -u
# SANITIZE_TESTS set: a subset, recorded as such in the status ("clean-subset")
VPY=${VPY:-.venv/bin/python}
B=build/sanitize
mkdir -p $B
PYBIND=$($VPY -m pybind11 --cmakedir)
flock build/.lock cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPython_EXECUTABLE=$(realpath $VPY) -Dpybind11_DIR="$PYBIND" \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >$B/cmake.log 2>&1 \
  && flock build/.lock cmake --build $B -j 2 >$B/build.log 2>&1 || { echo "failed build" > $B/status; tail -20 $B/build.log; exit 1; }
SO=$(ls $B/_core*.so | head -1)
ASAN=$(${CXX:-g++} -print-file-name=libasan.so)
UBSAN=$(${CXX:-g++} -print-file-name=libubsan.so)
# Python and torch leak by design at exit: leaks are not checked; any other report aborts.
env LD_PRELOAD="$ASAN $UBSAN" EXTREME3D_SANITIZED_CORE=$(realpath $SO) \
  PYTHONPATH=$(pwd)/bench/sanitize \
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1:handle_segv=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  $VPY -m pytest -q -p no:cacheprovider ${SANITIZE_TESTS:-} >$B/pytest.log 2>&1
rc=$?
if [ $rc = 0 ] && ! grep -q "ERROR: AddressSanitizer\|runtime error:" $B/pytest.log; then
  if [ -n "${SANITIZE_TESTS:-}" ]; then echo clean-subset > $B/status; else echo clean > $B/status; fi
else
  echo "failed rc=$rc" > $B/status
fi
tail -3 $B/pytest.log
echo "sanitizer: $(cat $B/status)"
