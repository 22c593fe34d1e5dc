/** The bundles scripts/build.mjs makes: name in dist/ → entry point. */
export declare const BUNDLES: Record<string, string>;
/** Builds every bundle older than a source (all of them with `force`); resolves to the names built. */
export declare function ensureBuilt(options?: { force?: boolean }): Promise<string[]>;
/** Bundles each entry point (a path from the root) into dist/<name>, whatever its age. */
export declare function bundle(entries: Record<string, string>): Promise<void>;
/** The node options the service runs with: npm start, the image, the systemd example and the bench agree on them. */
export declare const SERVER_NODE_FLAGS: string[];
