package eksemulator

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// TestTagRules: lengths count Unicode characters, the characters are those the
// EKS TagMap documentation allows, and aws: is reserved on keys and values; the
// same rules hold on CreateAccessEntry (InvalidParameterException) and
// TagResource (BadRequestException).
func TestTagRules(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	holder := createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(roleARN(testAccount, "holder"))})
	tests := []struct {
		name string
		tags map[string]string
		want string // "" when accepted
	}{
		{"letters of any script, digits, spaces, symbols", map[string]string{"Équipe ñ 名前 /x:y=z+1-2@3_4.5": "值 ü ok"}, ""},
		{"128 characters of 3 bytes each", map[string]string{strings.Repeat("é", 128): strings.Repeat("名", 256)}, ""},
		{"empty value", map[string]string{"k": ""}, ""},
		{"aws inside a key", map[string]string{"team-aws:x": "my-aws:y"}, ""},
		{"129-character key", map[string]string{strings.Repeat("é", 129): "v"}, `keys must be 1 to 128 Unicode characters long; it has 129`},
		{"257-character value", map[string]string{"k": strings.Repeat("名", 257)}, `values must be at most 256 Unicode characters long; it has 257`},
		{"empty key", map[string]string{"": "v"}, `Tag key "" is invalid: keys must be 1 to 128`},
		{"key with a comma", map[string]string{"a,b": "v"}, `Tag key "a,b" is invalid: keys may contain only letters, numbers, spaces and _ . : / = + - @`},
		{"key with a star", map[string]string{"a*": "v"}, `Tag key "a*" is invalid: keys may contain only`},
		{"value with a semicolon", map[string]string{"k": "a;b"}, `Tag value "a;b" of key "k" is invalid: values may contain only`},
		{"value with a newline", map[string]string{"k": "a\nb"}, `of key "k" is invalid: values may contain only`},
		{"aws: key", map[string]string{"aws:owner": "x"}, `Tag key "aws:owner" is invalid: the aws: prefix is reserved for AWS use`},
		{"AWS: key in another case", map[string]string{"AwS:owner": "x"}, `Tag key "AwS:owner" is invalid: the aws: prefix is reserved`},
		{"aws: value", map[string]string{"owner": "AWS:me"}, `Tag value "AWS:me" of key "owner" is invalid: the aws: prefix is reserved for AWS use`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			principal := roleARN(testAccount, fmt.Sprintf("tagged-%d", i))
			_, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(principal), Tags: tt.tags})
			_, tagErr := c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: holder.AccessEntryArn, Tags: tt.tags})
			if tt.want == "" {
				mustOK(t, err, "create")
				mustOK(t, tagErr, "TagResource")
				if got := entryOf(s.Entries(testAccount, testRegion, testCluster), principal).Tags; !maps.Equal(got, tt.tags) {
					t.Fatalf("tags = %q, want %q", got, tt.tags)
				}
				return
			}
			wantErr[*types.InvalidParameterException](t, err, tt.want)
			wantErr[*types.BadRequestException](t, tagErr, tt.want)
		})
	}
}

// TestAWSTagsAreOutsideTheLimitAndUntouchable: tags AWS put on an entry (here
// through SetAWSTag, as CloudFormation does) do not count toward the 50-tag
// limit, and callers can neither remove nor set them.
func TestAWSTagsAreOutsideTheLimitAndUntouchable(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	e := createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	if s.SetAWSTag(testAccount, testRegion, testCluster, myRole, "team", "x") {
		t.Fatal("SetAWSTag set a key without the aws: prefix")
	}
	if s.SetAWSTag(testAccount, testRegion, testCluster, roleARN(testAccount, "nobody"), "aws:cloudformation:stack-name", "x") {
		t.Fatal("SetAWSTag reported true for an entry that does not exist")
	}
	for _, k := range []string{"aws:cloudformation:stack-name", "aws:cloudformation:logical-id", "AWS:cloudformation:stack-id"} {
		if !s.SetAWSTag(testAccount, testRegion, testCluster, myRole, k, "v") {
			t.Fatalf("SetAWSTag(%s) found no entry", k)
		}
	}
	fifty := map[string]string{}
	for i := range 50 {
		fifty[fmt.Sprintf("k%02d", i)] = "v"
	}
	_, err := c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: e.AccessEntryArn, Tags: fifty})
	mustOK(t, err, "50 user tags beside 3 aws: tags")
	desc, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)})
	mustOK(t, err, "describe")
	if len(desc.AccessEntry.Tags) != 53 || desc.AccessEntry.Tags["aws:cloudformation:logical-id"] != "v" {
		t.Fatalf("describe shows %d tags: %v", len(desc.AccessEntry.Tags), desc.AccessEntry.Tags)
	}
	_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: e.AccessEntryArn, Tags: map[string]string{"one-more": "v"}})
	wantErr[*types.BadRequestException](t, err, "would have 51 tags, at most 50")
	_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: e.AccessEntryArn, Tags: map[string]string{"k00": "replaced"}})
	mustOK(t, err, "replacing a tag's value at the limit")

	_, err = c.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: e.AccessEntryArn, TagKeys: []string{"k01", "aws:cloudformation:stack-name"}})
	wantErr[*types.BadRequestException](t, err, `Tag key "aws:cloudformation:stack-name" is invalid: the aws: prefix is reserved for AWS use`)
	_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: e.AccessEntryArn, Tags: map[string]string{"aws:cloudformation:stack-name": "mine"}})
	wantErr[*types.BadRequestException](t, err, "reserved for AWS use")
	got := entryOf(s.Entries(testAccount, testRegion, testCluster), myRole).Tags
	if got["aws:cloudformation:stack-name"] != "v" || got["k01"] != "v" || got["k00"] != "replaced" {
		t.Fatalf("refused calls changed tags: %v", got)
	}
}
