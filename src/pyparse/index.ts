/** Static reading of Python source: tree-sitter parsing and fal.App extraction. */
export * from './bindings';
export * from './extract';
export * from './locate';
export * from './parser';
export * from './range';
export * from './values';
export * from './check';
export * from './shift';
export * from './appFile';
