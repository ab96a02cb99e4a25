/*
 * rife_shim.c - native VapourSynth plugin that exposes vsrife's Python filter as core.rife.RIFE.
 *
 * The filter itself is Python (PyTorch).  This shim only registers the namespace "rife" so that
 * scripts can call core.rife.RIFE(clip, ...) without "import vsrife".  On the first call in a core it
 * runs a line of Python (vsrife.plugin.bind.bind()) which hands the Python implementation back to the shim
 * through the internal function rife.Bind(func=...) (or rife.Bind(error=...) when vsrife cannot be
 * imported).  Every call is then forwarded to that function with callFunction.
 *
 * libpython is deliberately not linked: the few Python C-API symbols needed are looked up at run
 * time with dlsym(RTLD_DEFAULT, ...), so the library loads in any host; without Python the call fails
 * with a clear error.
 *
 * Build: cc -shared -fPIC -O2 -I<vapoursynth include> -DRIFE_ARGS='"clip:vnode;..."' rife_shim.c
 *        -o librife_vsrife.so -lpthread   (setup.py does this; RIFE_ARGS comes from vsrife/plugin/signature.py)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "VapourSynth4.h"

#ifndef RIFE_ARGS
#error "RIFE_ARGS (the argument string from vsrife/plugin/signature.py) must be defined"
#endif
#ifndef RIFE_RETURN
#define RIFE_RETURN "clip:vnode;"
#endif
#ifndef RIFE_BIND_ARGS
#define RIFE_BIND_ARGS "func:func:opt;error:data:opt;"
#endif
#ifndef RIFE_PLUGIN_VERSION
#define RIFE_PLUGIN_VERSION VS_MAKE_VERSION(3, 0)
#endif

/* The Python code run (under the GIL) to bind a core: exec in a fresh dict so that no names leak into
 * __main__.  vsrife.plugin.bind.bind() itself reports its own failures through rife.Bind(error=...). */
static const char BIND_CODE[] =
    "exec('try:\\n"
    "    import vsrife.plugin.bind as m\\n"
    "except BaseException as e:\\n"
    "    import vapoursynth\\n"
    "    vapoursynth.core.rife.Bind(error=\"cannot import the vsrife Python package: %s: %s\" "
    "% (type(e).__name__, e))\\n"
    "else:\\n"
    "    m.bind()\\n', {})\n";

/* Per-core state, allocated in VapourSynthPluginInit2 (plugins are loaded once per core). */
typedef struct {
    pthread_mutex_t lock; /* guards func/error; never held while Python or the bound function runs */
    VSFunction *func;     /* the Python implementation, set by Bind(func=...) */
    char *error;          /* why binding failed, set by Bind(error=...) */
} RifeState;

typedef int (*PyIsInitializedFn)(void);
typedef int (*PyGILStateEnsureFn)(void); /* PyGILState_STATE is an enum */
typedef void (*PyGILStateReleaseFn)(int);
typedef int (*PyRunSimpleStringFn)(const char *);

/* Runs BIND_CODE in the embedding Python.  Returns 0 on success, -1 when there is no Python. */
static int run_bind_code(void) {
    PyIsInitializedFn is_init = (PyIsInitializedFn)dlsym(RTLD_DEFAULT, "Py_IsInitialized");
    PyGILStateEnsureFn ensure = (PyGILStateEnsureFn)dlsym(RTLD_DEFAULT, "PyGILState_Ensure");
    PyGILStateReleaseFn release = (PyGILStateReleaseFn)dlsym(RTLD_DEFAULT, "PyGILState_Release");
    PyRunSimpleStringFn run = (PyRunSimpleStringFn)dlsym(RTLD_DEFAULT, "PyRun_SimpleString");
    if (!is_init || !ensure || !release || !run || !is_init())
        return -1;
    int gil = ensure();
    run(BIND_CODE); /* a failure here is reported below as "not bound" (the traceback goes to stderr) */
    release(gil);
    return 0;
}

/* rife.Bind(func=..., error=...): internal, called by vsrife.plugin.bind.  The first function wins. */
static void VS_CC bind_create(const VSMap *in, VSMap *out, void *userData, VSCore *core, const VSAPI *vsapi) {
    (void)out;
    (void)core;
    RifeState *st = (RifeState *)userData;
    int err = 0;
    VSFunction *f = vsapi->mapGetFunction(in, "func", 0, &err); /* a new reference */
    const char *msg = vsapi->mapGetData(in, "error", 0, &err);
    char *copy = msg ? strdup(msg) : NULL;
    pthread_mutex_lock(&st->lock);
    if (f && !st->func) {
        st->func = f;
        f = NULL;
        free(st->error);
        st->error = NULL;
    }
    if (copy && !st->func) {
        free(st->error);
        st->error = copy;
        copy = NULL;
    }
    pthread_mutex_unlock(&st->lock);
    if (f)
        vsapi->freeFunction(f); /* already bound (two threads raced through the first call) */
    free(copy);
}

/* Returns a new reference to the bound function, or NULL; on NULL *why may hold a copy of the error. */
static VSFunction *get_bound(RifeState *st, const VSAPI *vsapi, char **why) {
    VSFunction *f = NULL;
    pthread_mutex_lock(&st->lock);
    if (st->func)
        f = vsapi->addFunctionRef(st->func);
    else if (why && st->error)
        *why = strdup(st->error);
    pthread_mutex_unlock(&st->lock);
    return f;
}

/* Python reports an exception as its whole traceback.  For the filter's own errors (vapoursynth.Error,
 * "RIFE: ...") keep only the message; anything else (a bug) keeps the traceback. */
static void set_python_error(VSMap *out, const char *err, const VSAPI *vsapi) {
    static const char tag[] = "vapoursynth.Error: ";
    const char *msg = NULL;
    for (const char *p = strstr(err, tag); p; p = strstr(p + 1, tag))
        msg = p + sizeof tag - 1;
    if (!msg) {
        vsapi->mapSetError(out, err);
        return;
    }
    char *copy = strdup(msg);
    if (!copy) {
        vsapi->mapSetError(out, err);
        return;
    }
    size_t n = strlen(copy);
    while (n && (copy[n - 1] == '\n' || copy[n - 1] == '\r' || copy[n - 1] == ' '))
        copy[--n] = '\0';
    vsapi->mapSetError(out, copy);
    free(copy);
}

/* rife.RIFE(clip, ...): bind on first use, then forward the whole argument map to Python. */
static void VS_CC rife_create(const VSMap *in, VSMap *out, void *userData, VSCore *core, const VSAPI *vsapi) {
    (void)core;
    RifeState *st = (RifeState *)userData;
    VSFunction *f = get_bound(st, vsapi, NULL);
    if (!f) {
        /* Not bound yet: ask Python.  The lock is not held here: Python may switch threads while it
         * imports, and a thread waiting on our lock while holding the GIL would deadlock.  Two racing
         * first calls both run the bind code; Bind keeps the first function. */
        if (run_bind_code() != 0) {
            vsapi->mapSetError(out, "RIFE: no Python runtime in this process; core.rife.RIFE needs "
                                    "VapourSynth's Python environment (vspipe or python)");
            return;
        }
        char *why = NULL;
        f = get_bound(st, vsapi, &why);
        if (!f) {
            char buf[1024];
            snprintf(buf, sizeof buf, "RIFE: could not load the vsrife Python implementation: %s",
                     why ? why : "vsrife.plugin.bind did not bind (see the Python traceback on stderr)");
            free(why);
            vsapi->mapSetError(out, buf);
            return;
        }
    }

    VSMap *res = vsapi->createMap();
    vsapi->callFunction(f, in, res);
    vsapi->freeFunction(f);
    const char *err = vsapi->mapGetError(res);
    if (err) {
        set_python_error(out, err, vsapi);
    } else {
        int e = 0;
        VSNode *node = vsapi->mapGetNode(res, "val", 0, &e);
        if (node)
            vsapi->mapConsumeNode(out, "clip", node, maReplace);
        else
            vsapi->mapSetError(out, "RIFE: the Python implementation returned no clip");
    }
    vsapi->freeMap(res);
}

VS_EXTERNAL_API(void) VapourSynthPluginInit2(VSPlugin *plugin, const VSPLUGINAPI *vspapi) {
    vspapi->configPlugin("com.vsrife.rife", "rife", "vsrife (RIFE frame interpolation, PyTorch)", RIFE_PLUGIN_VERSION,
                         VAPOURSYNTH_API_VERSION, 0, plugin);
    /* One state per core.  VapourSynth has no hook for freeing function data when a core goes away,
     * so this small struct (and the bound function's reference) lives until the process exits. */
    RifeState *st = (RifeState *)calloc(1, sizeof(RifeState));
    if (!st)
        return;
    pthread_mutex_init(&st->lock, NULL);
    vspapi->registerFunction("RIFE", RIFE_ARGS, RIFE_RETURN, rife_create, st, plugin);
    vspapi->registerFunction("Bind", RIFE_BIND_ARGS, "", bind_create, st, plugin);
}
