/* The pci: scheme up to the point where it would touch a device: address
 * parsing, option checks and driver choice by vendor:device ID. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>

#include "pci.h"
#include "port.h"

static void parses_addresses(void **state)
{
	(void)state;
	char bdf[16], err[LOBO_ERR_LEN];
	assert_int_equal(lobo_pci_parse_bdf("0000:00:03.0", bdf, err), 0);
	assert_string_equal(bdf, "0000:00:03.0");
	assert_int_equal(lobo_pci_parse_bdf("3b:1f.7", bdf, err), 0);
	assert_string_equal(bdf, "0000:3b:1f.7");
	assert_int_equal(lobo_pci_parse_bdf("0001:02:03.1", bdf, err), 0);
	assert_string_equal(bdf, "0001:02:03.1");
	const char *bad[] = {"", "zz", "00:03", "00:03.0x", "0000:00:03.0 ", "eth0"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(lobo_pci_parse_bdf(bad[i], bdf, err), -EINVAL);
		assert_non_null(strstr(err, "is not a PCI address"));
	}
}

/* A device present on this machine that lobo has no driver for, if any. */
static bool foreign_device(char *bdf)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	bool found = false;
	while (d && !found && (e = readdir(d))) {
		uint16_t vendor, device;
		char err[LOBO_ERR_LEN];
		found = e->d_name[0] != '.' && !lobo_pci_id(e->d_name, &vendor, &device, err) &&
			!lobo_pci_driver_name(vendor, device);
		if (found)
			snprintf(bdf, 16, "%.15s", e->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

static void refuses_before_touching_a_device(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN], uri[64], bdf[16];
	struct lobo_port *p;
	struct lobo_mem mem;
	assert_int_equal(lobo_mem_alloc(&mem, 1 << 16, err), 0);
	assert_int_equal(lobo_port_open(&p, "pci:00:zz", &mem, err), -EINVAL);
	assert_int_equal(lobo_port_open(&p, "pci:ff:1f.6?virtoi=modern", &mem, err), -EINVAL);
	assert_non_null(strstr(err, "unknown option 'virtoi'"));
	assert_int_equal(lobo_port_open(&p, "pci:ff:1f.7", &mem, err), -ENODEV);
	assert_non_null(strstr(err, "no PCI device at 0000:ff:1f.7"));
	if (foreign_device(bdf)) {
		snprintf(uri, sizeof uri, "pci:%s", bdf);
		assert_int_equal(lobo_port_open(&p, uri, NULL, err), -EINVAL);
		assert_non_null(strstr(err, "needs DMA memory"));
		assert_int_equal(lobo_port_open(&p, uri, &mem, err), -ENODEV);
		assert_non_null(strstr(err, "no lobo driver for"));
		assert_null(strchr(err, '\n'));
	}
	lobo_mem_free(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_addresses),
		cmocka_unit_test(refuses_before_touching_a_device),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
