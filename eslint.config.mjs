// ESLint (flat config) with typescript-eslint; formatting is Prettier's job (.prettierrc).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'build/**',
      'node_modules/**',
      'vendor/**',
      '.jupyter/**',
      'scratch/**',
      'site/**',
      'benchmark/**',
      'data/**',
      '.venv-lab/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        globalThis: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      'no-empty': ['error', { allowEmptyCatch: true }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  ...layering(),
);

/**
 * The library's layers, lowest first. A module may import its own layer and the ones below, never
 * one above (type-only imports excepted: a figure may name the type of what it draws). The losses,
 * models, data, metrics, trainer, plots and export do not import backend code either: they run
 * on whatever backend is active.
 */
function layering() {
  const layers = [
    ['util'],
    ['backend', 'losses', 'models', 'data'],
    ['eval', 'train'],
    ['plot', 'export'],
    ['benchmark'],
    ['experiments'],
    ['cli', 'workbook'],
  ];
  const top = ['index'];
  const pattern = (dir) => [`**/${dir}`, `**/${dir}/**`];
  return layers
    .map((layer, i) => {
      const above = [...layers.slice(i + 1).flat(), ...top];
      const noBackend = i >= 1 && i <= 3;
      return {
        files: layer.flatMap((d) => [`src/${d}/**/*.ts`, `src/${d}.ts`]),
        rules: {
          '@typescript-eslint/no-restricted-imports': [
            'error',
            {
              patterns: [
                {
                  group: above.flatMap(pattern),
                  allowTypeImports: true,
                  message: `src/${layer.join(', src/')} may not import a layer above it (${above.join(', ')}): see layering() in eslint.config.mjs`,
                },
                ...(noBackend
                  ? [
                      {
                        group: pattern('backend'),
                        allowTypeImports: true,
                        message:
                          'losses, models, data, metrics, the trainer, plots and export run on any backend: they do not import src/backend (use util/read.ts for reads)',
                      },
                    ]
                  : []),
              ],
            },
          ],
        },
      };
    })
    .map((c, i) =>
      // The backend itself is in layer 1; it may import its own folder.
      i === 1 ? { ...c, ignores: ['src/backend/**'] } : c,
    )
    .concat([
      {
        files: ['src/backend/**/*.ts'],
        rules: {
          '@typescript-eslint/no-restricted-imports': [
            'error',
            {
              patterns: [
                {
                  group: [...layers.slice(2).flat(), ...top, 'losses', 'models', 'data'].flatMap(pattern),
                  allowTypeImports: true,
                  message: 'src/backend imports only src/util and TF.js: see layering() in eslint.config.mjs',
                },
              ],
            },
          ],
        },
      },
    ]);
}
