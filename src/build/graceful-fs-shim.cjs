// Bundled in place of graceful-fs (a dependency of proper-lockfile): its fs patching costs ~3.5 ms
// at every start of the CNI binary and guards against EMFILE, which one lock per call never meets.
module.exports = require('node:fs');
