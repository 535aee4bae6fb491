// Schemas of the kinds served, for /openapi/v3 documents.
export const schemaFor = (_kind: string): Record<string, unknown> => ({
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
  },
});
