/*
 * A stand-in for Windows' bcryptprimitives.dll, for Wine 8 only.
 *
 * Go 1.24 and later get their random numbers on Windows from ProcessPrng in
 * bcryptprimitives.dll (Windows 10+). Wine 8.0 (Debian 12) has no such DLL,
 * so every Go 1.26 program dies at start-up under it ("bcryptprimitives.dll
 * not found"). This stub exports ProcessPrng and fills the buffer from
 * advapi32's RtlGenRandom (SystemFunction036), which Wine implements by
 * reading the host's system RNG.
 *
 * It is copied into the test prefix's C:\windows\system32 by smoke.sh; it
 * is never shipped: real Windows has the real DLL.
 */
#include <windows.h>

/* RtlGenRandom is exported by advapi32 under this name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	/* RtlGenRandom takes a ULONG length: feed it at most 1 GiB at a time. */
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
	(void)inst;
	(void)reason;
	(void)reserved;
	return TRUE;
}
