// Lint: the type-aware rules that catch real bugs in async library code, and
// the project's one privacy style. Formatting is Prettier's job (format:check).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // Every linted file is in tsconfig.json (JavaScript through allowJs/checkJs), so one program serves them all.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // TypeScript resolves every name (checkJs covers the .js/.mjs/.cjs files too).
      'no-undef': 'off',
      // Promises: a lost rejection or a promise where a boolean/void belongs is a bug.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // Throwing or rejecting with a non-Error loses the stack (a caught `unknown` passed on as it is stays allowed).
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      '@typescript-eslint/use-unknown-in-catch-callback-variable': 'error',
      // `return promise` inside try/catch/finally skips the catch and runs the finally too early.
      '@typescript-eslint/return-await': ['error', 'error-handling-correctness-only'],
      // A new LcowErrorCode or backend kind must reach every switch that decides on it.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // The one privacy style is the `private` keyword (see DESIGN.md).
      'no-restricted-syntax': [
        'error',
        {
          selector: ':matches(PropertyDefinition, MethodDefinition, AccessorProperty) > PrivateIdentifier.key',
          message: 'Use the `private` keyword, not a #private member: the project has one privacy style.',
        },
      ],
      // Off on purpose:
      // - Style, not bugs: an async function without await, and numbers/unions in template strings.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    // Tests assert on untyped data on purpose (JSON.parse, expect.any(), koffi stubs); the promise rules still hold.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  {
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Not in any tsconfig program: the bin shim loads dist/ (absent before a build).
    files: ['bin/**/*.js', 'bin/**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable' } },
  },
);
