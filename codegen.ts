import type { CodegenConfig } from '@graphql-codegen/cli';

// Typed documents for the portal, generated from berth's schema files.
// `npm run codegen` (run by `make generate`) rewrites portal/src/gql; the
// output is committed and `make check-generated` fails when it is stale.
const config: CodegenConfig = {
  schema: ['schema.graphql', 'artifacts.graphql', 'oidc.graphql', 'access.graphql', 'gc.graphql', 'jobs.graphql', 'events.graphql', 'webhooks.graphql', 'retention.graphql', 'scan.graphql', 'security.graphql', 'pullpolicy.graphql', 'scanners.graphql', 'search.graphql', 'ent.graphql'],
  documents: ['portal/src/**/*.{ts,tsx}', '!portal/src/gql/**'],
  ignoreNoDocuments: true,
  generates: {
    'portal/src/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        // Only the types the portal's operations use: the generated files
        // then change only when something the portal reads changes.
        onlyOperationTypes: true,
        scalars: {
          Time: 'string',
          Int64: 'number',
          Cursor: 'string',
          Map: 'Record<string, unknown>',
        },
      },
    },
  },
};

export default config;
