// The shape of a library table (see function-def.d.ts), and reading a
// function's name out of its declaration: the one name a table entry is
// bound and looked up by, on the main thread (TypeScript) and in the hvsock
// worker (plain JavaScript) alike.

/**
 * Name of a C prototype declaration ('HRESULT __stdcall NAME(...)').
 * @param {string} decl
 * @returns {string}
 */
export function declaredName(decl) {
  const m = /([A-Za-z_][A-Za-z0-9_]*)\s*\(/.exec(decl);
  if (!m?.[1]) throw new Error(`not a C prototype: ${decl}`);
  return m[1];
}
