// A CommonJS door to the server's ES modules, for the sandlock CLI: its bundle runs from a
// vm.Script, where import() is not available, but require() of this file is.
"use strict";
module.exports = function main(argv) {
  return import("./dist/main.js").then((m) => m.main(argv));
};
