package eksemulator

import (
	"regexp"
	"strings"
)

// partitionInfo is one AWS partition: the regions it holds and the DNS suffix
// of its endpoints. The region patterns and suffixes are those of
// aws-sdk-go-v2's internal/endpoints/awsrulesfn/partitions.json (v1.48.0);
// botocore's data/partitions.json has the same table.
type partitionInfo struct {
	id        string
	regions   *regexp.Regexp
	dnsSuffix string
}

// partitions lists the commercial partition last: its pattern is the broadest
// and the others must be tried first.
var partitions = []partitionInfo{
	{"aws-cn", regexp.MustCompile(`^cn-\w+-\d+$`), "amazonaws.com.cn"},
	{"aws-us-gov", regexp.MustCompile(`^us-gov-\w+-\d+$`), "amazonaws.com"},
	{"aws-iso", regexp.MustCompile(`^us-iso-\w+-\d+$`), "c2s.ic.gov"},
	{"aws-iso-b", regexp.MustCompile(`^us-isob-\w+-\d+$`), "sc2s.sgov.gov"},
	{"aws-iso-e", regexp.MustCompile(`^eu-isoe-\w+-\d+$`), "cloud.adc-e.uk"},
	{"aws-iso-f", regexp.MustCompile(`^us-isof-\w+-\d+$`), "csp.hci.ic.gov"},
	{"aws-eusc", regexp.MustCompile(`^eusc-(de)-\w+-\d+$`), "amazonaws.eu"},
	{"aws", regexp.MustCompile(`^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$`), "amazonaws.com"},
}

// partitionIDs is the alternation of partition IDs for ARN patterns.
var partitionIDs = func() string {
	ids := make([]string, len(partitions))
	for i, p := range partitions {
		ids[i] = regexp.QuoteMeta(p.id)
	}
	return strings.Join(ids, "|")
}()

// PartitionOf returns the partition ("aws", "aws-cn", "aws-us-gov", ...) that
// a region belongs to; "aws" for a region no partition claims, as the SDK's
// endpoint resolver does.
func PartitionOf(region string) string {
	return partitionFor(region).id
}

func partitionFor(region string) partitionInfo {
	for _, p := range partitions {
		if p.regions.MatchString(region) {
			return p
		}
	}
	return partitions[len(partitions)-1]
}

// knownRegionShape reports whether some partition claims the region name.
func knownRegionShape(region string) bool {
	for _, p := range partitions {
		if p.regions.MatchString(region) {
			return true
		}
	}
	return false
}
