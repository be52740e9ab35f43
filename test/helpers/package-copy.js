// A copy of the installed package's layout in a temp directory (dist/, scripts/, package.json, and
// node_modules linked to this repository's), with the binaries a test asks for in build/ and
// prebuilds/: the loader and the install hook resolve everything relative to it.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const builtAddon = path.join(root, 'build', 'Release', 'cycletls_native.node');
/** This machine's prebuilt tag (the test hosts are glibc Linux). */
const hostTag = `${process.platform}-${process.arch}-gnu`;

/**
 * `binaries` maps a path inside the package (e.g. 'build/Release', `prebuilds/${hostTag}`) to what
 * its cycletls_native.node holds: 'addon' (this repository's build) or any other string (written as is: a broken binary).
 */
function packageCopy(binaries = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-package-'));
  fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
  fs.cpSync(path.join(root, 'scripts'), path.join(dir, 'scripts'), { recursive: true });
  fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  for (const [where, content] of Object.entries(binaries)) {
    const file = path.join(dir, where, 'cycletls_native.node');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (content === 'addon') fs.copyFileSync(builtAddon, file);
    else fs.writeFileSync(file, content);
  }
  return {
    dir,
    file: (where) => path.join(dir, where, 'cycletls_native.node'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

module.exports = { packageCopy, hostTag };
