/** The App configuration model: pure, no I/O; the one source of truth for every reader. */
export * from './catalog';
export * from './cost';
export * from './input';
export * from './names';
export * from './options';
export * from './problems';
export * from './requirements';
export * from './schema';
export * from './validate';
