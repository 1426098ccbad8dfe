package org.divert4j.junit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a {@link org.divert4j.testbed.TestNode} parameter that {@link DivertExtension} fills with
 * the host's own IP stack ({@link org.divert4j.testbed.TestBed#hostNode()}).
 */
@Target(ElementType.PARAMETER)
@Retention(RetentionPolicy.RUNTIME)
@Documented
public @interface HostNode {}
