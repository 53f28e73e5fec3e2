/** Public API: embed a Nimbus server in a Node program. */
export { Server } from './Server.js';
export { loadConfig, type LoadConfigOptions, type LoadedConfig } from './config/loadConfig.js';
export type { Config } from './config/Config.js';
export { Core } from './core/Core.js';
export { Client, type ClientWriter } from './core/Client.js';
export { Publication } from './core/Publication.js';
export { Listener, type ListenerOwner, type SubscriptionControl } from './core/Listener.js';
export { DefaultHooks, type ServerHooks, type ConnectionResponse } from './core/ServerHooks.js';
export * from './errors.js';
export { MediaFrame, FrameKind, FrameFlag } from './media/MediaFrame.js';
export { AppHost } from './scripting/AppHost.js';
export type * from './scripting/types.js';
