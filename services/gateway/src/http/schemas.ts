/** JSON schemas the Graph routes share (fastify validates them; a refusal names the parameter). */

/** A Graph node id in the path: /{id}/… */
export const idParams = { type: "object", required: ["id"], properties: { id: { type: "string", maxLength: 64 } } } as const;

/** Cursor paging of a Graph collection: `limit`, `after`, `before`. */
export const pagingProperties = {
  limit: { type: "integer", minimum: 1, maximum: 1000 },
  after: { type: "string", maxLength: 2048 },
  before: { type: "string", maxLength: 2048 },
} as const;
