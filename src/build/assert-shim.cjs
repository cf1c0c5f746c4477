// Bundled into the plugin's script in place of node:assert, which only signal-exit (under
// proper-lockfile) asks for, to check that an exit handler is a function. Loading node:assert
// opens stderr as a stream (for its error colours), and with it net and the stream modules: ~5 ms
// on every CNI call that takes a lock (a network's first ADD and last DEL, STATUS, GC). The calls
// it makes fail here as they would there.
function fail(message) {
  throw Object.assign(new Error(message || 'assertion failed'), { code: 'ERR_ASSERTION' });
}
function assert(value, message) {
  if (!value) fail(message);
}
assert.ok = assert;
assert.equal = (actual, expected, message) => {
  if (actual != expected) fail(message);
};
module.exports = assert;
