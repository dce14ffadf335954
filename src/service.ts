/** How the service names itself: in the OpenAPI document and to MCP clients. */
export const SERVICE = {
  name: "python-exec-service",
  title: "Python execution service",
  version: "0.1.0",
  description: "Runs an untrusted Python script in a sandbox and returns main()'s JSON result with the captured output.",
} as const;
