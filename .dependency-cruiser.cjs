// The architecture, checked by `npm run deps` (part of `npm test`).
//
// src/ is a stack of layers. A module may import its own layer's files and the
// layers below it, never a layer above, and nothing may go round in a cycle:
const LAYERS = [
  [
    'errors.ts',
    'log.ts',
    'drained.ts',
    'find-program.ts',
    'byte-names.ts',
    'process-alive.ts',
    'write-all.ts',
    'libc.ts',
    'file-lock.ts',
    'wasm.ts',
    'fd-file.ts',
  ], // root helpers: import no folder
  ['digest'], // the lane hash, the stream digest, SHA-256: what names and checks the output
  ['tar', 'ext4', 'vhd'], // three leaves: none of them imports another
  ['layer'], // the tar → ext4 → verity → VHD pipeline
  ['backend'],
  ['uvm'],
  ['svm'],
  ['driver'],
  ['image'],
  ['plugin'], // the driver behind moby's graph-driver plugin protocol
  ['cli'],
];
// src/index.ts sits on top of everything and re-exports each folder's index.ts.
//
// A folder with an index.ts is a unit: from outside it, only that index.ts may
// be imported. Inside, relative imports are free, and that includes a subfolder
// importing its parent's files (backend/qemu → backend/types.ts). A subfolder
// with its own index.ts (backend/qemu, backend/hcs, backend/fake …) is a unit
// of its own: backend/index.ts loads it lazily through that index.ts, and so
// does everyone else. The units are found on disk, so a new folder needs no edit
// here, only a place in LAYERS.
const fs = require('node:fs');
const path = require('node:path');

const SRC = path.join(__dirname, 'src');
/** @param {string} s */
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// `src/x` as a folder (src/x/…) or a root file (src/x.ts).
/** @param {string} name */
const place = (name) => (name.endsWith('.ts') ? `^src/${esc(name)}$` : `^src/${esc(name)}/`);
/** @param {string[]} names */
const anyOf = (names) => names.map(place);

const units = fs
  .readdirSync(SRC, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && e.name === 'index.ts' && (e.parentPath ?? e.path) !== SRC)
  .map((e) =>
    path
      .relative(SRC, e.parentPath ?? e.path)
      .split(path.sep)
      .join('/'),
  )
  .sort();

const upward = LAYERS.flatMap((layer, i) => {
  const above = LAYERS.slice(i + 1).flat();
  /** @type {import('dependency-cruiser').IForbiddenRuleType[]} */
  const rules = [];
  if (above.length > 0)
    rules.push({
      name: `upward:${layer.join('|')}`,
      comment: `${layer.join(', ')} may not import a layer above it (${above.join(', ')})`,
      severity: 'error',
      from: { path: anyOf(layer) },
      to: { path: anyOf(above) },
    });
  // Files within the root-helper layer may use each other; folders sharing a layer may not.
  if (layer.length > 1 && !layer.some((n) => n.endsWith('.ts')))
    for (const name of layer)
      rules.push({
        name: `sibling:${name}`,
        comment: `${name} may not import ${layer.filter((n) => n !== name).join(' or ')}: they are independent leaves`,
        severity: 'error',
        from: { path: place(name) },
        to: { path: anyOf(layer.filter((n) => n !== name)) },
      });
  return rules;
});

const throughIndex = units.map((unit) => {
  const nested = units.filter((u) => u.startsWith(`${unit}/`));
  return {
    name: `deep-import:${unit}`,
    comment: `from outside src/${unit}/, import only src/${unit}/index.ts`,
    severity: 'error',
    from: { path: '^(src|native-defs)/', pathNot: `^src/${esc(unit)}/` },
    to: { path: `^src/${esc(unit)}/`, pathNot: [`^src/${esc(unit)}/index\\.ts$`, ...nested.map((n) => `^src/${esc(n)}/`)] },
  };
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'a cycle means two modules are one; untangle it by moving the shared part down a layer',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      comment: 'two folders that import each other are one folder: move the shared part down a layer',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...upward,
    ...throughIndex,
    {
      name: 'index-is-the-top',
      comment: 'src/index.ts re-exports everything; a module in src importing it would import upward',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'outside-the-layers',
      comment: 'every file in src/ belongs to a layer: give this folder or root file a place in LAYERS in .dependency-cruiser.cjs',
      severity: 'error',
      from: {},
      to: { path: '^src/', pathNot: ['^src/index\\.ts$', ...anyOf(LAYERS.flat())] },
    },
    {
      name: 'src-stands-alone',
      comment: 'the build compiles src/ alone (rootDir src): src imports only src/, native-defs/ and packages',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|examples|bench|scripts|bin)/' },
    },
    {
      name: 'native-defs-is-a-leaf',
      comment: 'native-defs/ holds koffi prototypes only: it imports nothing from src/',
      severity: 'error',
      from: { path: '^native-defs/' },
      to: { path: '^src/' },
    },
    {
      // Reported, not enforced: examples and benchmarks show the public API, so they
      // should reach src through the index.ts files a consumer gets from the exports map.
      name: 'examples-use-the-public-api',
      comment: 'examples/ and bench/ should import src through a folder index.ts (the public API)',
      severity: 'warn',
      from: { path: '^(examples|bench)/' },
      to: { path: '^src/', pathNot: ['^src/index\\.ts$', ...units.map((u) => `^src/${esc(u)}/index\\.ts$`)] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    // Type-only imports are part of the architecture too: keep them in the graph.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
