/**
 * plugin/: the LCOW driver as a moby graph-driver plugin (protocol v1 over a
 * unix socket), for dockerd or an engine written in Node. See README.md.
 */
export { servePlugin, pluginSocketPath, DOCKER_PLUGIN_DIR, GET_DIRS, type ServePluginOptions, type PluginServer } from './serve.js';
export { GraphDriverPlugin, type GraphDriverPluginOptions, type PluginDriver } from './graph-driver.js';
export { PluginHttpServer, errorText, type PluginHttpOptions, type Verb, type VerbContext } from './http-server.js';
export { PLUGIN_MEDIA_TYPE, CHANGE_KIND, type WireChange } from './protocol.js';
