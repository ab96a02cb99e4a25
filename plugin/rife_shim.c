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
 * time, so the library loads in any host and works with any Python 3 version; without Python the call
 * fails with a clear error.  On Linux and macOS they come from dlsym(RTLD_DEFAULT, ...).  On Windows,
 * where a DLL's exports are not global, from the process's loaded modules: python3XY.dll (or python3.dll)
 * by name first, then any module that exports Py_IsInitialized (EnumProcessModules), with GetProcAddress.
 *
 * Build (setup.py does this; RIFE_ARGS comes from vsrife/plugin/signature.py):
 *   Linux:   cc -shared -fPIC -O2 -I<vapoursynth include> -DRIFE_ARGS='"clip:vnode;..."' rife_shim.c
 *            -o librife_vsrife.so -ldl -lpthread
 *   Windows: x86_64-w64-mingw32-gcc -shared -O2 -I<vapoursynth include> -DRIFE_ARGS=... rife_shim.c
 *            -o librife_vsrife.dll -static-libgcc -lpsapi
 */
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <psapi.h>
#else
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#if defined(__GLIBC__) && defined(__x86_64__)
/* Bind dlsym to its first version, GLIBC_2.2.5 (in libdl.so.2 before glibc 2.34, kept in libc.so.6 since), not
 * to the dlsym@GLIBC_2.34 that linking on a newer glibc records: the wheel then needs glibc 2.17, not 2.34
 * (setup.py links libdl.so.2 explicitly, so that older glibcs find it there). */
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
#endif
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "VapourSynth4.h"

/* A mutex that needs no destruction: an SRW lock on Windows, a pthread mutex elsewhere. */
#ifdef _WIN32
typedef SRWLOCK rife_lock;
#define lock_init(l) InitializeSRWLock(l)
#define lock_take(l) AcquireSRWLockExclusive(l)
#define lock_drop(l) ReleaseSRWLockExclusive(l)
#define rife_strdup _strdup
#else
typedef pthread_mutex_t rife_lock;
#define lock_init(l) pthread_mutex_init((l), NULL)
#define lock_take(l) pthread_mutex_lock(l)
#define lock_drop(l) pthread_mutex_unlock(l)
#define rife_strdup strdup
#endif

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

#ifndef RIFE_DIST
#define RIFE_DIST "vapoursynth-rife" /* our PyPI name (vsrife.install.DIST) */
#endif

/* The Python code run (under the GIL) to bind a core: exec in a fresh dict so that no names leak into
 * __main__.  vsrife.plugin.bind.bind() itself reports its own failures through rife.Bind(error=...).  When
 * vsrife cannot be imported and a distribution named "vsrife" is installed that is not this project under its
 * former name (so HolyWu's vs-rife, whose package has the same name and may have replaced ours), the error says
 * how to fix that. */
static const char BIND_CODE[] =
    "exec('''\n"
    "try:\n"
    "    import vsrife.plugin.bind as m\n"
    "except BaseException as e:\n"
    "    import vapoursynth\n"
    "    msg = \"cannot import the vsrife Python package: %s: %s\" % (type(e).__name__, e)\n"
    "    try:\n"
    "        import importlib.metadata as md\n"
    "        d = md.distribution(\"vsrife\")\n"
    "        ours = any(ep.value == \"vsrife.cli:main\" for ep in d.entry_points)\n"
    "        other = None if ours else d.version\n"
    "    except Exception:\n"
    "        other = None\n"
    "    if other:\n"
    "        msg += (\"; the distribution vsrife %s is installed, another project (HolyWu's vs-rife) whose \"\n"
    "                \"package has the same name: run 'pip uninstall -y vsrife', then \"\n"
    "                \"'pip install --force-reinstall " RIFE_DIST "'\" % other)\n"
    "    vapoursynth.core.rife.Bind(error=msg)\n"
    "else:\n"
    "    m.bind()\n"
    "''', {})\n";

/* Per-core state, allocated in VapourSynthPluginInit2 (plugins are loaded once per core). */
typedef struct {
    rife_lock lock; /* guards func/error; never held while Python or the bound function runs */
    VSFunction *func;     /* the Python implementation, set by Bind(func=...) */
    char *error;          /* why binding failed, set by Bind(error=...) */
} RifeState;

typedef int (*PyIsInitializedFn)(void);
typedef int (*PyGILStateEnsureFn)(void); /* PyGILState_STATE is an enum */
typedef void (*PyGILStateReleaseFn)(int);
typedef int (*PyRunSimpleStringFn)(const char *);

typedef void (*AnyFn)(void);

#ifdef _WIN32
/* The module of this process that exports Python's C API: python3XY.dll, python3.dll, or (a renamed or
 * statically embedded Python) any loaded module exporting Py_IsInitialized.  NULL when there is none. */
static HMODULE python_module(void) {
    char name[32];
    for (int minor = 30; minor >= 6; minor--) {
        snprintf(name, sizeof name, "python3%d.dll", minor);
        HMODULE m = GetModuleHandleA(name);
        if (m) return m;
    }
    HMODULE m = GetModuleHandleA("python3.dll");
    if (m) return m;
    HMODULE mods[1024];
    DWORD bytes = 0;
    if (!EnumProcessModules(GetCurrentProcess(), mods, sizeof mods, &bytes)) return NULL;
    DWORD n = bytes / sizeof(HMODULE);
    for (DWORD i = 0; i < n && i < sizeof mods / sizeof mods[0]; i++)
        if (GetProcAddress(mods[i], "Py_IsInitialized")) return mods[i];
    return NULL;
}

static AnyFn python_symbol(const char *name) {
    HMODULE m = python_module();
    return m ? (AnyFn)GetProcAddress(m, name) : NULL;
}
#else
static AnyFn python_symbol(const char *name) {
    AnyFn f;
    void *p = dlsym(RTLD_DEFAULT, name);
    memcpy(&f, &p, sizeof f); /* object pointer to function pointer without a pedantic warning */
    return f;
}
#endif

/* Runs BIND_CODE in the embedding Python.  Returns 0 on success, -1 when there is no Python. */
static int run_bind_code(void) {
    PyIsInitializedFn is_init = (PyIsInitializedFn)python_symbol("Py_IsInitialized");
    PyGILStateEnsureFn ensure = (PyGILStateEnsureFn)python_symbol("PyGILState_Ensure");
    PyGILStateReleaseFn release = (PyGILStateReleaseFn)python_symbol("PyGILState_Release");
    PyRunSimpleStringFn run = (PyRunSimpleStringFn)python_symbol("PyRun_SimpleString");
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
    char *copy = msg ? rife_strdup(msg) : NULL;
    lock_take(&st->lock);
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
    lock_drop(&st->lock);
    if (f)
        vsapi->freeFunction(f); /* already bound (two threads raced through the first call) */
    free(copy);
}

/* Returns a new reference to the bound function, or NULL; on NULL *why may hold a copy of the error. */
static VSFunction *get_bound(RifeState *st, const VSAPI *vsapi, char **why) {
    VSFunction *f = NULL;
    lock_take(&st->lock);
    if (st->func)
        f = vsapi->addFunctionRef(st->func);
    else if (why && st->error)
        *why = rife_strdup(st->error);
    lock_drop(&st->lock);
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
    char *copy = rife_strdup(msg);
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
    lock_init(&st->lock);
    vspapi->registerFunction("RIFE", RIFE_ARGS, RIFE_RETURN, rife_create, st, plugin);
    vspapi->registerFunction("Bind", RIFE_BIND_ARGS, "", bind_create, st, plugin);
}
